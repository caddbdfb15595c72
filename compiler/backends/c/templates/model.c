/* compot ${version} generated kernel -- do not edit.
 * model: ${text}
 * parameters (${np}): ${names}
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
/* with OpenMP and -DCOMPOT_SIMD_EXP (glibc's libmvec), loops of exponentials use vector exp */
#if defined(_OPENMP) && defined(COMPOT_SIMD_EXP)
#pragma omp declare simd notinbranch
extern double exp(double);
#define COMPOT_SIMD _Pragma("omp simd")
#else
#define COMPOT_SIMD
#endif

#define COMPOT_A(x) ((x) > 0 ? (x) : 1)   /* array size of x elements, at least 1 */
${defines}

/* cutoff function fc(r) = 1 - 35x^4 + 84x^5 - 70x^6 + 20x^7, x = r/rc, and its derivative */
static inline void compot_cutoff(const double r, double* fc, double* dfc) {
    const double x = r * COMPOT_INV_RC;
    if (x >= 1.0) { *fc = 0.0; *dfc = 0.0; return; }
    const double x3 = x * x * x, x4 = x3 * x;
    *fc = 1.0 + x4 * (-35.0 + x * (84.0 + x * (-70.0 + 20.0 * x)));
    *dfc = x3 * (-140.0 + x * (420.0 + x * (-420.0 + 140.0 * x))) * COMPOT_INV_RC;
}

/* parameter-only subexpressions of the pair functions */
static void compot_precompute(const double* p, double* q) {
    (void)p; (void)q;
${precompute}
}

/* pair functions phi_a(r) and d phi_a/dr, a = 0..NPHI-1, for pair type t */
static inline void compot_pair(const double r, const int t, const double* p, const double* q,
                               double* phi, double* dphi) {
    (void)p; (void)q; (void)r; (void)t;
    double fc, dfc;
    compot_cutoff(r, &fc, &dfc);
${pair}
}

/* as compot_pair, plus derivatives by the basis parameters: phi_b[a*NB+b], dphi_b[a*NB+b] */
static inline void compot_pair_jac(const double r, const int t, const double* p, const double* q,
                                   double* phi, double* dphi, double* phi_b, double* dphi_b) {
    (void)p; (void)q; (void)r; (void)t;
    double fc, dfc;
    compot_cutoff(r, &fc, &dfc);
${pair_jac}
}

/* per-atom energy F(psi, chi; p) of an atom of species s; U = dF/dpsi, V = dF/dchi */
static inline double compot_atom(const double* psi, const double* chi, const double* p,
                                 const int s, double* U, double* V) {
    (void)psi; (void)chi; (void)p; (void)U; (void)V; (void)s;
    double F = 0.0;
${atom}
    return F;
}

/* as compot_atom, plus Fp = dF/dp, Up[a*NP+k] = dU_a/dp_k, Vp[c*NP+k], and the Hessian blocks
 * Hpp[a*NPSI+b] = dU_a/dpsi_b, Hpc[a*NCHI+c] = dU_a/dchi_c, Hcc[c*NCHI+e] = dV_c/dchi_e */
static inline double compot_atom_jac(const double* psi, const double* chi, const double* p,
                                     const int s, double* U, double* V, double* Fp, double* Up,
                                     double* Vp, double* Hpp, double* Hpc, double* Hcc) {
    (void)psi; (void)chi; (void)p; (void)U; (void)V; (void)Fp; (void)Up; (void)Vp;
    (void)Hpp; (void)Hpc; (void)Hcc; (void)s;
    double F = 0.0;
${atom_jac}
    return F;
}
