"""The CLI: --json contracts, clean one-line errors, standalone kernels that build without compot."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from ase.build import bulk

COMPOT = [sys.executable, "-m", "compot"]


def run(*args, check=True):
    p = subprocess.run(COMPOT + list(args), capture_output=True, text=True)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_show_json_best_model():
    out = json.loads(run("show", "E[G8L4] + N[E[G8L4]]", "--json").stdout)
    assert out["n_linear"] == 65 and out["n_nonlinear"] == 10
    assert len(out["linear"]) == 65 and out["nonlinear"][:2] == ["b1.alpha", "b1.beta"]
    assert "exp(" in out["energy"] and "chi[b1,1]" in out["energy"]


def test_show_text_jacobian_and_latex():
    p = run("show", "G10 ⊗ E[G8L4]", "--jacobian")
    assert "45 linear + 8 nonlinear" in p.stdout and "dE_i/dp1.s = 1" in p.stdout
    out = json.loads(run("show", "G2", "--latex", "--json").stdout)
    assert "\\" in out["energy"]


@pytest.mark.parametrize("args,fragment", [
    (["show", "E[G8"], "line 1, column 5"),
    (["show", "G0"], "at least 1"),
    (["show", "E[q L2]"], "unknown basis 'q'"),
    (["show", "G8", "--cutoff", "-3"], "cutoff"),
    (["show", "G8", "--elements", "Xq"], "unknown chemical element"),
    (["show", "@/nonexistent/model.txt"], "cannot read model file"),
    (["compile", "G8", "-o", "/proc/forbidden/dir"], "cannot create output directory"),
    (["show"], "arguments are required"),
    (["frobnicate"], "invalid choice"),
])
def test_errors_are_one_line(args, fragment):
    p = run(*args, check=False)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 or all("warning" in ln for ln in lines[:-1]), p.stderr
    assert "Traceback" not in p.stderr and fragment in p.stderr, p.stderr


def test_help_for_every_command():
    for cmd in ("show", "compile"):
        assert "--json" in run(cmd, "--help").stdout


def test_standalone_kernel_builds_without_compot(tmp_path, compiled):
    text = "E[G3L2] + N[E[G3L2]]"
    out = json.loads(run("compile", text, "-o", str(tmp_path), "--json").stdout)
    assert {os.path.basename(f) for f in out["files"]} == {"compot_model.pyx", "compot_model.h",
                                                             "setup.py", "README.txt"}
    # build with setuptools + Cython only, and import with compot hidden
    env = dict(os.environ, PYTHONNOUSERSITE="1")
    b = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tmp_path,
                       capture_output=True, text=True, env=env)
    assert b.returncode == 0, b.stderr[-2000:]
    model = compiled(text)
    atoms = bulk("Nb", "bcc", a=3.3, cubic=True) * (2, 2, 1)
    atoms.rattle(0.1, seed=0)
    p = model.parameter_vector(model.initial_parameters(0))
    nl = model.neighbor_list(atoms)
    np.savez(tmp_path / "in.npz", s=nl.species, i=nl.i, j=nl.j, d=nl.d, p=p, n=len(atoms))
    code = ("import sys, numpy as np; sys.modules['compot'] = None; import compot_model as k; "
            "z = np.load('in.npz'); e, f, v = k.energy_forces(int(z['n']), z['s'], z['i'], z['j'], z['d'], z['p']); "
            "np.savez('out.npz', e=e, f=f)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = np.load(tmp_path / "out.npz")
    ref = model.evaluate(atoms, p)
    assert np.abs(got["e"] - ref["energies"]).max() < 1e-12
    assert np.abs(got["f"] - ref["forces"]).max() < 1e-12
    # the plain C function, from a C program
    main = tmp_path / "main.c"
    main.write_text(C_MAIN)
    nl_txt = tmp_path / "nl.txt"
    with open(nl_txt, "w") as fh:
        fh.write(f"{len(atoms)} {nl.npairs} {len(p)}\n")
        fh.write(" ".join(repr(float(x)) for x in p) + "\n")
        for a, b_, dd in zip(nl.i, nl.j, nl.d.reshape(-1, 3)):
            fh.write(f"{a} {b_} " + " ".join(repr(float(x)) for x in dd) + "\n")
    exe = tmp_path / "main"
    c = subprocess.run(["cc", "-O2", "-o", str(exe), str(main), "-lm"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert c.returncode == 0, c.stderr
    r = subprocess.run([str(exe), str(nl_txt)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    energy = float(r.stdout.split()[0])
    assert abs(energy - ref["energy"]) < 1e-10 * max(1, abs(ref["energy"]))


C_MAIN = r"""
#include <stdio.h>
#include "compot_model.h"
int main(int argc, char** argv) {
    FILE* f = fopen(argv[1], "r");
    int n, np_, P;
    if (fscanf(f, "%d %d %d", &n, &np_, &P) != 3) return 2;
    double* p = malloc(sizeof(double) * P);
    for (int k = 0; k < P; k++) if (fscanf(f, "%lf", &p[k]) != 1) return 2;
    int* pi = malloc(sizeof(int) * np_); int* pj = malloc(sizeof(int) * np_);
    double* d = malloc(sizeof(double) * 3 * np_);
    for (int k = 0; k < np_; k++)
        if (fscanf(f, "%d %d %lf %lf %lf", &pi[k], &pj[k], &d[3*k], &d[3*k+1], &d[3*k+2]) != 5) return 2;
    double* e = malloc(sizeof(double) * n); double* F = malloc(sizeof(double) * 3 * n);
    double virial[9];
    int* species = calloc(n, sizeof(int));
    if (compot_energy_forces(n, species, np_, pi, pj, d, p, e, F, virial)) return 3;
    double E = 0; for (int i = 0; i < n; i++) E += e[i];
    printf("%.17g\n", E);
    return 0;
}
"""
