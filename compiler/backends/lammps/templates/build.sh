#!/bin/sh
# Build the compot LAMMPS plugin (needs a C++ compiler and LAMMPS headers).
#   LAMMPS_INCLUDE: the directory of LAMMPS's headers (pair.h, ...): a source tree's src/ or a CMake
#                   install's include/lammps; MPI_INCLUDE: the directory of mpi.h (if LAMMPS uses MPI).
set -e
cd "$(dirname "$0")"
LAMMPS_INCLUDE="${LAMMPS_INCLUDE:-@LAMMPS_INCLUDE@}"
MPI_INCLUDE="${MPI_INCLUDE:-@MPI_INCLUDE@}"
${CXX:-c++} -O3 -fPIC -shared -std=c++17 -fopenmp -DLAMMPS_SMALLBIG @SIMD@ -I"$LAMMPS_INCLUDE" ${MPI_INCLUDE:+-I"$MPI_INCLUDE"} -I. @SOURCE@ -o @SONAME@ @LIBS@
