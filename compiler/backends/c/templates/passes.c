/* ---- compot physics passes (model independent; the model enters through the functions above) ----
 *
 * The chain rule of docs/theory.md §5, written once: the Cython kernel, the LAMMPS pair style and
 * the standalone sources all call these functions.
 *
 * Atoms 0 .. nlocal-1 are local: their energies are computed.  Atoms nlocal .. nall-1 are ghosts
 * (in LAMMPS: periodic images and other ranks' atoms); they carry descriptors, filled by the
 * caller's forward communication, and receive forces, which the caller sums into their owners.
 * Without ghosts (the Cython kernel) nall = nlocal = n.
 *
 * Neighbours: the full neighbour list of the local atoms as flat arrays of npairs entries,
 * pi[k] (a local atom, entries of one atom contiguous and in increasing order of pi),
 * pj[k] (any atom) and d[3k .. 3k+2] = R_j + shift - R_i.  Entries with |d| >= cutoff are skipped.
 * The pair passes use each unordered pair once:
 *   - a pair of two local atoms i < j acts on both ("mirrored"); its twin (j, i) is skipped;
 *   - a pair with a ghost j, and an atom's own periodic image (j == i, both directions listed),
 *     acts on i only: the ghost's side is computed where the ghost's atom is local.
 *
 * species[nall]: species index of each atom (0 .. NSPECIES-1).
 *
 * int compot_energy_forces_nt(nthreads, nlocal, nall, species, npairs, pi, pj, d, p, comm,
 *                             energies[nlocal], forces[3 nall], virial[9] or NULL)
 *   energies: per-atom E_i; forces (added to): F = -dE/dR; virial (added to) [3a+b] =
 *   sum_pairs d_a f_b, so that stress = virial / volume (ASE sign convention).  comm (may be
 *   NULL without ghosts): forward(values, width) copies local atoms' values to their ghosts,
 *   reverse(values, width) adds ghosts' values into their owners; the passes call them for the
 *   descriptors psi and their adjoints W when the model has an N operator.  Runs on up to
 *   nthreads OpenMP threads (compiled with -fopenmp); returns 0, or 1 when out of memory.
 *
 * int compot_energy_forces(n, species, npairs, pi, pj, d, p, energies, forces, virial)
 *   the same without ghosts, on compot_set_threads(t) threads.
 *
 * int compot_energy_forces_grade_nt(..., virial, grade)
 *   compot_energy_forces_nt that also gives, for every local atom, the gradient g_i of its site
 *   energy E_i by chosen parameters and its grade |L^T g_i| for a covariance factor L
 *   (Sigma = L L^T); see compot_grade below.  grade == NULL is compot_energy_forces_nt.  Returns
 *   2 when a chosen parameter is out of range or a basis parameter.
 *
 * int compot_jacobian(n, species, npairs, pi, pj, d, p, J[(1+3n)*NP], energies[n] or NULL, forces[3n] or NULL,
 *                     JW[9*NP] or NULL)
 *   J row 0: dE_total/dtheta; row 1+3i+x: dF_ix/dtheta (row-major, NP columns).  JW row 3a+b:
 *   d virial[3a+b]/dtheta (the virial of compot_energy_forces; stress = virial / volume), for
 *   fits to stresses.  No ghosts.
 *
 * Arrays: phi[NPHI] holds the pair functions of one pair (the first NPSI2 are summed into the pair
 * descriptors psi[0..NPSI2), the rest are radial functions of many-body bases); psi[NPSI] holds the
 * pair descriptors followed by the NMB many-body descriptors.
 */

/* the caller's communication of per-atom values between local atoms and their ghosts */
typedef struct compot_comm {
    void* ctx;
    void (*forward)(void* ctx, double* values, int width);
    void (*reverse)(void* ctx, double* values, int width);
} compot_comm;

static inline double compot_norm(const double* v) {
    return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

#define COMPOT_PTYPE(k) compot_pair_type[species[pi[k]] * COMPOT_NSPECIES + species[pj[k]]]

#if COMPOT_NMB > 0
/* many-body passes over the local atoms (the per-atom work is in compot_mb_*); the caller groups
 * the pairs by atom once (compot_group_pairs) for both passes */

/* pairs within the cutoff grouped by first atom: order[start[i] .. start[i+1]) */
typedef struct { int* start; int* order; int maxnb; } compot_groups;

static void compot_groups_free(compot_groups* G) {
    free(G->start); free(G->order);
    G->start = G->order = NULL;
}

static int compot_group_pairs(int n, int npairs, const int* pi, const double* d, compot_groups* G) {
    /* n: the local atoms (every pi[k] < n) */
    G->start = (int*)calloc((size_t)n + 1, sizeof(int));
    G->order = (int*)malloc(sizeof(int) * (size_t)COMPOT_A(npairs));
    int* cursor = (int*)malloc(sizeof(int) * (size_t)COMPOT_A(n));
    G->maxnb = 0;
    if (!G->start || !G->order || !cursor) { free(cursor); compot_groups_free(G); return 1; }
    for (int k = 0; k < npairs; k++)
        if (compot_norm(d + 3 * k) < COMPOT_CUTOFF) G->start[pi[k] + 1]++;
    for (int i = 0; i < n; i++) {
        if (G->start[i + 1] > G->maxnb) G->maxnb = G->start[i + 1];
        G->start[i + 1] += G->start[i];
        cursor[i] = G->start[i];
    }
    for (int k = 0; k < npairs; k++)
        if (compot_norm(d + 3 * k) < COMPOT_CUTOFF) G->order[cursor[pi[k]]++] = k;
    free(cursor);
    return 0;
}

static void compot_nbrs_load(int i, const compot_groups* G, const int* species, const int* pi,
                             const int* pj, const double* d, const double* p, const double* q,
                             compot_nbrs* N) {
    const size_t NB = COMPOT_NB;
    N->m = G->start[i + 1] - G->start[i];
    for (int s = 0; s < N->m; s++) {
        const int k = G->order[G->start[i] + s];
        const double r = compot_norm(d + 3 * k);
        N->r[s] = r;
        for (int x = 0; x < 3; x++) N->u[3 * s + x] = d[3 * k + x] / r;
        if (N->gb)
            compot_radial_jac(r, COMPOT_PTYPE(k), p, q, N->g + s * COMPOT_NRAD, N->dg + s * COMPOT_NRAD,
                              N->gb + s * COMPOT_NRAD * NB, N->dgb + s * COMPOT_NRAD * NB);
        else
            compot_radial(r, COMPOT_PTYPE(k), p, q, N->g + s * COMPOT_NRAD, N->dg + s * COMPOT_NRAD);
    }
}

/* many-body descriptors of the local atoms, added to psi; their moments kept in M (NM per atom);
 * with dpsi != NULL also the derivatives by the basis parameters (dpsi, and dM: NM * NB per atom) */
static int compot_mb_all_psi(int n, const int* species, const compot_groups* G, const int* pi,
                             const int* pj, const double* d, const double* p, const double* q,
                             double* psi, double* M, double* dpsi, double* dM) {
    const size_t NPSI = COMPOT_NPSI, NB = COMPOT_NB, NM = COMPOT_NM;
    compot_nbrs N;
    double B[COMPOT_NMB];
    double* dB = dpsi ? (double*)malloc(sizeof(double) * COMPOT_NMB * COMPOT_A(NB)) : NULL;
    if (compot_nbrs_alloc(&N, G->maxnb, dpsi != NULL) || (dpsi && !dB)) {
        compot_nbrs_free(&N); free(dB);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        compot_nbrs_load(i, G, species, pi, pj, d, p, q, &N);
        double* Mi = M + (size_t)i * NM;
        double* dMi = dpsi ? dM + (size_t)i * NM * NB : NULL;
        compot_mb_moments(&N, Mi, dMi);
        compot_mb_descriptors(Mi, dMi, B, dB);
        double* psi_i = psi + (size_t)i * NPSI + COMPOT_NPSI2;
        for (int k = 0; k < COMPOT_NMB; k++) psi_i[k] += B[k];
        if (dpsi) {
            double* dpsi_i = dpsi + ((size_t)i * NPSI + COMPOT_NPSI2) * NB;
            for (size_t x = 0; x < COMPOT_NMB * NB; x++) dpsi_i[x] += dB[x];
        }
    }
    compot_nbrs_free(&N);
    free(dB);
    return 0;
}

/* many-body forces and virial from the descriptor adjoints W (NPSI per atom) and the moments M */
static int compot_mb_forces_all(int n, const int* species, const compot_groups* G, const int* pi,
                                const int* pj, const double* d, const double* p, const double* q,
                                const double* W, const double* M, double* forces, double* virial) {
    const size_t NPSI = COMPOT_NPSI, NM = COMPOT_NM;
    compot_nbrs N;
    double* fs = (double*)malloc(sizeof(double) * 3 * (size_t)COMPOT_A(G->maxnb));
    double Gm[COMPOT_NM];
    if (compot_nbrs_alloc(&N, G->maxnb, 0) || !fs) { compot_nbrs_free(&N); free(fs); return 1; }
    for (int i = 0; i < n; i++) {
        compot_nbrs_load(i, G, species, pi, pj, d, p, q, &N);
        compot_mb_adjoint(M + (size_t)i * NM, NULL, W + (size_t)i * NPSI + COMPOT_NPSI2, Gm, NULL);
        compot_mb_forces(&N, Gm, fs);
        for (int s = 0; s < N.m; s++) {
            const int k = G->order[G->start[i] + s], j = pj[k];
            for (int x = 0; x < 3; x++) {
                const double f = fs[3 * s + x];
                forces[3 * i + x] += f;
                forces[3 * j + x] -= f;
                if (virial)
                    for (int y = 0; y < 3; y++) virial[3 * y + x] += d[3 * k + y] * f;
            }
        }
    }
    compot_nbrs_free(&N);
    free(fs);
    return 0;
}
#endif

/* descriptors only: psi[n*NPSI], chi[n*NCHI] (zero-initialised by the caller); 0, or 1 when out
 * of memory */
static int compot_descriptors(int n, const int* species, int npairs, const int* pi, const int* pj,
                              const double* d,
                              const double* p, double* psi, double* chi)
{
    const size_t NPSI = COMPOT_NPSI, NCHI = COMPOT_NCHI;
    double q[COMPOT_A(COMPOT_NQ)];
    double phi[COMPOT_A(COMPOT_NPHI)], dphi[COMPOT_A(COMPOT_NPHI)];
    (void)n;
    compot_precompute(p, q);
    if (COMPOT_NPSI2 > 0) {
        for (int k = 0; k < npairs; k++) {
            const double r = compot_norm(d + 3 * k);
            if (r >= COMPOT_CUTOFF) continue;
            compot_pair(r, COMPOT_PTYPE(k), p, q, phi, dphi);
            double* psi_i = psi + (size_t)pi[k] * NPSI;
            for (size_t a = 0; a < COMPOT_NPSI2; a++) psi_i[a] += phi[a];
        }
    }
#if COMPOT_NMB > 0
    compot_groups G;
    double* M = (double*)malloc(sizeof(double) * (size_t)COMPOT_A(n) * COMPOT_NM);
    const int status = !M || compot_group_pairs(n, npairs, pi, d, &G) ||
                       compot_mb_all_psi(n, species, &G, pi, pj, d, p, q, psi, M, NULL, NULL);
    if (M) compot_groups_free(&G);
    free(M);
    if (status) return 1;
#endif
    if (NCHI > 0) {
        for (int k = 0; k < npairs; k++) {
            const double r = compot_norm(d + 3 * k);
            if (r >= COMPOT_CUTOFF) continue;
            double fc, dfc;
            compot_cutoff(r, &fc, &dfc);
            double* chi_i = chi + (size_t)pi[k] * NCHI;
            const double* psi_j = psi + (size_t)pj[k] * NPSI;
            for (size_t c = 0; c < NCHI; c++) chi_i[c] += fc * psi_j[compot_chi_src[c]];
        }
    }
    return 0;
}

/* ---- threads: compot_energy_forces runs on compot_nthreads OpenMP threads (1 without OpenMP).
 * Each thread takes a contiguous block of pairs and adds into its own buffer (thread 0 into the
 * output); the buffers are then summed in thread order, so results depend only on the thread
 * count (and differ from one thread by round-off only). */
#ifdef _OPENMP
#include <omp.h>
#define COMPOT_TID() omp_get_thread_num()
#else
#define COMPOT_TID() 0
#endif

static int compot_nthreads = 1;

/* set the number of threads of compot_energy_forces; returns the number it will use */
static int compot_set_threads(int t) {
#ifdef _OPENMP
    compot_nthreads = t > 0 ? t : 1;
#else
    (void)t;
    compot_nthreads = 1;
#endif
    return compot_nthreads;
}

/* out[x] += sum over threads t = 1..nt-1 of bufs[(t-1)*stride + x], x < len */
static void compot_reduce(double* out, const double* bufs, int nt, size_t stride, size_t len) {
    if (nt <= 1) return;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (long x = 0; x < (long)len; x++) {
        double s = 0.0;
        for (int t = 1; t < nt; t++) s += bufs[(size_t)(t - 1) * stride + (size_t)x];
        out[x] += s;
    }
}

/* first pair of the block of thread tid of nt (the block ends where that of tid + 1 starts) */
static inline int compot_block(int npairs, int tid, int nt) {
    return (int)((long long)npairs * tid / nt);
}

/* The unordered pairs (i <= j) within the cutoff, found by pass 1 and packed per thread block:
 * thread tid's entries are e = k0(tid) .. k0(tid) + count[tid] - 1, with the pair index k[e], its
 * distance r[e], cutoff fc[e] and derivative dfc[e], and phi'(r) in dphi[e * NPSI2 ..]. */
typedef struct { int* k; int* count; double *r, *fc, *dfc, *dphi; } compot_half;

static void compot_half_free(compot_half* H) {
    free(H->k); free(H->count); free(H->r); free(H->fc); free(H->dfc); free(H->dphi);
}

static int compot_half_alloc(compot_half* H, int npairs, int nt) {
    const size_t M = (size_t)COMPOT_A(npairs);
    H->k = (int*)malloc(sizeof(int) * M);
    H->count = (int*)calloc((size_t)nt, sizeof(int));
    H->r = (double*)malloc(sizeof(double) * M);
    H->fc = (double*)malloc(sizeof(double) * M);
    H->dfc = (double*)malloc(sizeof(double) * M);
    H->dphi = (double*)malloc(sizeof(double) * M * COMPOT_A(COMPOT_NPSI2));
    return !H->k || !H->count || !H->r || !H->fc || !H->dfc || !H->dphi;
}

/* a pair (i, j) acts on both atoms when both are local and distinct (see the top of this file) */
#define COMPOT_MIRRORED(i, j, nlocal) ((i) != (j) && (j) < (nlocal))

/* The N operator's neighbour sums over the unordered pairs, both directions of a mirrored pair:
 * scatter = 0 (chi):  out[a][c] += fc(r_ab) in[b][src(c)]   (in: psi, out: chi): a = i, and j
 * scatter = 1 (W):    out[a][src(c)] += fc(r_ab) in[b][c]   (in: V, out: U):    a = j, and i
 * (a one-sided pair gives chi to its local atom i and its adjoint share to j, a ghost's share
 * being summed into its owner by the caller).  Threads add into bufs (stride apart) as in
 * compot_energy_forces_nt, then into out. */
static void compot_fc_pass(int scatter, int nt, int nlocal, int nall, int npairs, const int* pi,
                           const int* pj, const compot_half* H, const double* in, double* out,
                           double* bufs, size_t stride)
{
    const size_t NPSI = COMPOT_NPSI, NCHI = COMPOT_NCHI;
    const size_t win = scatter ? NCHI : NPSI, wout = scatter ? NPSI : NCHI;
    if (bufs) memset(bufs, 0, sizeof(double) * stride * (size_t)(nt - 1));
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        const int tid = COMPOT_TID();
        double* acc = tid ? bufs + (size_t)(tid - 1) * stride : out;
        const int e0 = compot_block(npairs, tid, nt), e1 = e0 + H->count[tid];
        for (int e = e0; e < e1; e++) {
            const int k = H->k[e], i = pi[k], j = pj[k];
            const double fc = H->fc[e];
            const int both = COMPOT_MIRRORED(i, j, nlocal);
            for (int side = (scatter && !both) ? 1 : 0; side < (both || scatter ? 2 : 1); side++) {
                const int a = side ? j : i, b = side ? i : j;
                double* o = acc + (size_t)a * wout;
                const double* x = in + (size_t)b * win;
                if (scatter)
                    for (size_t c = 0; c < NCHI; c++) o[compot_chi_src[c]] += fc * x[c];
                else
                    for (size_t c = 0; c < NCHI; c++) o[c] += fc * x[compot_chi_src[c]];
            }
        }
    }
    compot_reduce(out, bufs, nt, stride, (size_t)(scatter ? nall : nlocal) * wout);
}

/* ---- per-atom gradients by parameters and the extrapolation grade (docs/theory.md §8.3) ----
 * E_i = F(psi(i), chi(i); p) with descriptors that depend on the basis parameters only, so for every
 * other parameter (the linear coefficients, shifts, layer exponents) dE_i/dp_t = dF/dp_t at atom i's
 * own psi(i) and chi(i), computed after chi's pass (which needs the ghosts' psi for the N operator):
 * the gradients need no communication beyond the energy's.  The grade of atom i is
 * sqrt(g_i^T Sigma g_i) = |L^T g_i| with Sigma = L L^T the parameters' covariance, evaluated as a
 * sum of squares (no cancellation however ill-conditioned Sigma is). */
typedef struct compot_grade {
    int ncols;            /* the parameters: p indices cols[0 .. ncols), none a basis parameter */
    const int* cols;
    int rank;             /* the covariance factor, transposed: LT[k * ncols + c] = L[c][k], k < rank */
    const double* LT;
    double* grades;       /* out (or NULL): [nlocal] the grade of every local atom */
    double* rows;         /* out (or NULL): [nlocal * ncols] g_i[c] = dE_i/dp[cols[c]] */
} compot_grade;

/* fill grade->grades and grade->rows from the local atoms' descriptors; 0, 1 (out of memory) or
 * 2 (a column out of range or a basis parameter) */
static int compot_site_grades(int nt, int nlocal, const int* species, const double* psi,
                              const double* chi, const double* p, const compot_grade* G)
{
    const size_t NPSI = COMPOT_NPSI, NCHI = COMPOT_NCHI;
    const size_t nc = G->ncols > 0 ? (size_t)G->ncols : 0;
    if (G->ncols < 0 || G->rank < 0 || (G->ncols > 0 && !G->cols) || (G->rank > 0 && !G->LT)) return 2;
    for (size_t c = 0; c < nc; c++) {
        if (G->cols[c] < 0 || G->cols[c] >= COMPOT_NP) return 2;
        for (int b = 0; b < COMPOT_NB; b++)
            if (compot_basis_param[b] == G->cols[c]) return 2;
    }
    /* one thread's scratch: U, V, Fp, Up, Vp, Hpp, Hpc, Hcc, g */
    const size_t oV = COMPOT_A(NPSI), oFp = oV + COMPOT_A(NCHI), oUp = oFp + COMPOT_A(COMPOT_NP);
    const size_t oVp = oUp + COMPOT_A(COMPOT_UP_NNZ), oHpp = oVp + COMPOT_A(COMPOT_VP_NNZ);
    const size_t oHpc = oHpp + COMPOT_A(COMPOT_HPP_NNZ), oHcc = oHpc + COMPOT_A(COMPOT_HPC_NNZ);
    const size_t og = oHcc + COMPOT_A(COMPOT_HCC_NNZ), width = og + COMPOT_A(nc);
    double* scratch = (double*)malloc(sizeof(double) * width * (size_t)(nt > 0 ? nt : 1));
    if (!scratch) return 1;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int i = 0; i < nlocal; i++) {
        double* w = scratch + width * (size_t)COMPOT_TID();
        double* g = w + og;
        compot_atom_jac(psi + (size_t)i * NPSI, chi + (size_t)i * NCHI, p, species[i], w, w + oV,
                        w + oFp, w + oUp, w + oVp, w + oHpp, w + oHpc, w + oHcc);
        for (size_t c = 0; c < nc; c++) g[c] = w[oFp + (size_t)G->cols[c]];
        if (G->rows) memcpy(G->rows + (size_t)i * nc, g, sizeof(double) * nc);
        if (G->grades) {
            double s = 0.0;
            for (int k = 0; k < G->rank; k++) {
                const double* l = G->LT + (size_t)k * nc;
                double t = 0.0;
                for (size_t c = 0; c < nc; c++) t += l[c] * g[c];
                s += t * t;
            }
            G->grades[i] = sqrt(s);
        }
    }
    free(scratch);
    return 0;
}

/* energies, forces and virial on up to nthreads threads (small systems run on one) */
static int compot_energy_forces_grade_nt(int nthreads, int nlocal, int nall, const int* species,
                                         int npairs, const int* pi, const int* pj, const double* d,
                                         const double* p, const compot_comm* comm, double* energies,
                                         double* forces, double* virial, const compot_grade* grade)
{
    /* Each unordered pair once, acting on both atoms when mirrored (pair functions depend only on
     * r and the unordered pair type). */
    const size_t NPSI = COMPOT_NPSI, NCHI = COMPOT_NCHI, N = (size_t)nall;
#ifdef _OPENMP
    const int nt = (npairs >= 4096 && nthreads > 1) ? nthreads : 1;
#else
    const int nt = 1;
    (void)nthreads;
#endif
    const size_t width = NPSI > NCHI ? (NPSI > 3 ? NPSI : 3) : (NCHI > 3 ? NCHI : 3);
    const size_t stride = N * width + 9;     /* a thread's buffer: nall x width, then a virial */
    double q[COMPOT_A(COMPOT_NQ)];
    double vir0[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    double* psi = (double*)calloc(N * COMPOT_A(NPSI), sizeof(double));
    double* chi = (double*)calloc(N * COMPOT_A(NCHI), sizeof(double));
    double* U = (double*)calloc(N * COMPOT_A(NPSI), sizeof(double));
    double* V = (double*)calloc(N * COMPOT_A(NCHI), sizeof(double));
    double* bufs = nt > 1 ? (double*)malloc(sizeof(double) * stride * (size_t)(nt - 1)) : NULL;
    compot_half H;
    if (compot_half_alloc(&H, npairs, nt) || !psi || !chi || !U || !V || (nt > 1 && !bufs)) {
        free(psi); free(chi); free(U); free(V); free(bufs); compot_half_free(&H);
        return 1;
    }
    compot_precompute(p, q);
    /* pass 1: the unordered pairs within the cutoff, and the pair descriptors */
    if (bufs && COMPOT_NPSI2 > 0) memset(bufs, 0, sizeof(double) * stride * (size_t)(nt - 1));
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        const int tid = COMPOT_TID();
        double* acc = tid ? bufs + (size_t)(tid - 1) * stride : psi;
        double phi[COMPOT_A(COMPOT_NPHI)], dphi[COMPOT_A(COMPOT_NPHI)];
        const int k0 = compot_block(npairs, tid, nt), k1 = compot_block(npairs, tid + 1, nt);
        int e = k0;
        for (int k = k0; k < k1; k++) {
            const int i = pi[k], j = pj[k];
            if (j < i && j < nlocal) continue;      /* the twin (j, i) carries this pair */
            const double r = compot_norm(d + 3 * k);
            if (r >= COMPOT_CUTOFF) continue;
            H.k[e] = k;
            H.r[e] = r;
            compot_cutoff(r, H.fc + e, H.dfc + e);
            if (COMPOT_NPSI2 > 0) {
                compot_pair(r, COMPOT_PTYPE(k), p, q, phi, dphi);
                memcpy(H.dphi + (size_t)e * COMPOT_NPSI2, dphi, sizeof(double) * COMPOT_NPSI2);
                double* psi_i = acc + (size_t)i * NPSI;
                for (size_t a = 0; a < COMPOT_NPSI2; a++) psi_i[a] += phi[a];
                if (COMPOT_MIRRORED(i, j, nlocal)) {
                    double* psi_j = acc + (size_t)j * NPSI;
                    for (size_t a = 0; a < COMPOT_NPSI2; a++) psi_j[a] += phi[a];
                }
            }
            e++;
        }
        H.count[tid] = e - k0;
    }
    if (COMPOT_NPSI2 > 0) compot_reduce(psi, bufs, nt, stride, (size_t)nlocal * NPSI);
    int status = 0, gstatus = 0;
#if COMPOT_NMB > 0
    compot_groups G = {NULL, NULL, 0};
    double* M = (double*)malloc(sizeof(double) * (size_t)COMPOT_A(nlocal) * COMPOT_NM);
    status = !M || compot_group_pairs(nlocal, npairs, pi, d, &G) ||
             compot_mb_all_psi(nlocal, species, &G, pi, pj, d, p, q, psi, M, NULL, NULL);
    if (status) goto done;
#endif
    /* the ghosts' descriptors, which the N operator needs */
    if (NCHI > 0 && comm && comm->forward) comm->forward(comm->ctx, psi, (int)NPSI);
    /* pass 2: neighbour descriptors chi_i = sum_j fc(r_ij) psi_src(j) */
    if (NCHI > 0) compot_fc_pass(0, nt, nlocal, nall, npairs, pi, pj, &H, psi, chi, bufs, stride);
    /* per-atom energies and adjoints U = dF/dpsi, V = dF/dchi */
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int i = 0; i < nlocal; i++)
        energies[i] = compot_atom(psi + (size_t)i * NPSI, chi + (size_t)i * NCHI, p, species[i],
                                  U + (size_t)i * NPSI, V + (size_t)i * NCHI);
    /* on request, the site energies' parameter gradients and grades (atom i: psi(i), chi(i)) */
    if (grade) gstatus = compot_site_grades(nt, nlocal, species, psi, chi, p, grade);
    /* W = U + sum_i V(i) fc(r_ij): total adjoint of psi(j) (stored in U); ghosts' shares to owners */
    if (NCHI > 0) {
        compot_fc_pass(1, nt, nlocal, nall, npairs, pi, pj, &H, V, U, bufs, stride);
        if (comm && comm->reverse) comm->reverse(comm->ctx, U, (int)NPSI);
    }
    /* pass 3: pair forces and virial; a mirrored pair (i, j) carries both directions:
     * dE/dr = W(i).phi'(r) + fc'(r) V(i).psi_src(j)  +  (the same with i and j swapped) */
    if (bufs) memset(bufs, 0, sizeof(double) * stride * (size_t)(nt - 1));
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        const int tid = COMPOT_TID();
        double* acc = tid ? bufs + (size_t)(tid - 1) * stride : forces;
        double* vir = tid ? bufs + (size_t)(tid - 1) * stride + N * width : vir0;
        const int e0 = compot_block(npairs, tid, nt), e1 = e0 + H.count[tid];
        for (int e = e0; e < e1; e++) {
            const int k = H.k[e], i = pi[k], j = pj[k];
            const int both = COMPOT_MIRRORED(i, j, nlocal);
            const double* dk = d + 3 * k;
            const double r = H.r[e];
            double g = 0.0;
            if (COMPOT_NPSI2 > 0) {
                const double* dphi = H.dphi + (size_t)e * COMPOT_NPSI2;
                const double* W_i = U + (size_t)i * NPSI;
                for (size_t a = 0; a < COMPOT_NPSI2; a++) g += W_i[a] * dphi[a];
                if (both) {
                    const double* W_j = U + (size_t)j * NPSI;
                    for (size_t a = 0; a < COMPOT_NPSI2; a++) g += W_j[a] * dphi[a];
                }
            }
            if (NCHI > 0) {
                double h = 0.0;
                const double* V_i = V + (size_t)i * NCHI;
                const double* psi_j = psi + (size_t)j * NPSI;
                for (size_t c = 0; c < NCHI; c++) h += V_i[c] * psi_j[compot_chi_src[c]];
                if (both) {
                    const double* V_j = V + (size_t)j * NCHI;
                    const double* psi_i = psi + (size_t)i * NPSI;
                    for (size_t c = 0; c < NCHI; c++) h += V_j[c] * psi_i[compot_chi_src[c]];
                }
                g += H.dfc[e] * h;
            }
            const double s = g / r;
            for (int x = 0; x < 3; x++) {
                const double f = s * dk[x];
                acc[3 * i + x] += f;
                acc[3 * j + x] -= f;
                for (int y = 0; y < 3; y++) vir[3 * y + x] += dk[y] * f;
            }
        }
    }
    compot_reduce(forces, bufs, nt, stride, 3 * N);
    for (int t = 1; t < nt; t++)
        for (int x = 0; x < 9; x++) vir0[x] += bufs[(size_t)(t - 1) * stride + N * width + x];
#if COMPOT_NMB > 0
    status = compot_mb_forces_all(nlocal, species, &G, pi, pj, d, p, q, U, M, forces, vir0);
done:
    compot_groups_free(&G);
    free(M);
#endif
    if (virial)
        for (int x = 0; x < 9; x++) virial[x] += vir0[x];
    free(psi); free(chi); free(U); free(V); free(bufs); compot_half_free(&H);
    return status ? status : gstatus;
}

/* energies, forces and virial on up to nthreads threads (compot_energy_forces_grade_nt without
 * the grade) */
static int compot_energy_forces_nt(int nthreads, int nlocal, int nall, const int* species, int npairs,
                                   const int* pi, const int* pj, const double* d, const double* p,
                                   const compot_comm* comm, double* energies, double* forces,
                                   double* virial)
{
    return compot_energy_forces_grade_nt(nthreads, nlocal, nall, species, npairs, pi, pj, d, p, comm,
                                         energies, forces, virial, NULL);
}

/* compot_energy_forces_nt without ghosts, on compot_set_threads(t) threads */
static int compot_energy_forces(int n, const int* species, int npairs, const int* pi, const int* pj,
                                const double* d, const double* p, double* energies, double* forces,
                                double* virial)
{
    return compot_energy_forces_nt(compot_nthreads, n, n, species, npairs, pi, pj, d, p, NULL,
                                   energies, forces, virial);
}


/* ---- the parameter Jacobian (forward mode over the parameters; docs/theory.md §5.3) ----
 * The tangents of the adjoints are sparse: dW(i)[a] = d W_a(i) / d theta has non-zero entries only
 * in the columns compot_w_col[compot_w_start[a] .. compot_w_start[a+1]) (the parameters that meet
 * descriptor a), dV(i)[c] in compot_v_col[compot_v_start[c] ..); both are stored packed. */

/* a pair's force on i (val * u) and its reaction on j, column t, and with JW its virial d (x) f */
static inline void compot_jpair(double* Ji, double* Jj, double* JW, size_t NP, size_t t, double val,
                                const double* u, const double* dk) {
    for (int x = 0; x < 3; x++) {
        Ji[x * NP + t] += val * u[x];
        Jj[x * NP + t] -= val * u[x];
    }
    if (JW)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) JW[(3 * y + x) * NP + t] += dk[y] * val * u[x];
}

static int compot_jacobian(int n, const int* species, int npairs, const int* pi, const int* pj,
                           const double* d, const double* p, double* J, double* energies,
                           double* forces, double* JW)
{
    const size_t NP = COMPOT_NP, NPSI = COMPOT_NPSI, NCHI = COMPOT_NCHI, NB = COMPOT_NB, N = (size_t)n;
    const size_t WN = COMPOT_W_NNZ, VN = COMPOT_V_NNZ;
    double q[COMPOT_A(COMPOT_NQ)];
    double phi[COMPOT_A(COMPOT_NPHI)], dphi[COMPOT_A(COMPOT_NPHI)];
    double phi_b[COMPOT_A(COMPOT_NPHI * COMPOT_NB)], dphi_b[COMPOT_A(COMPOT_NPHI * COMPOT_NB)];
    double* Fp = (double*)malloc(sizeof(double) * COMPOT_A(NP));
    double* Up = (double*)malloc(sizeof(double) * COMPOT_A(COMPOT_UP_NNZ));
    double* Vp = (double*)malloc(sizeof(double) * COMPOT_A(COMPOT_VP_NNZ));
    double* Hpp = (double*)malloc(sizeof(double) * COMPOT_A(COMPOT_HPP_NNZ));
    double* Hpc = (double*)malloc(sizeof(double) * COMPOT_A(COMPOT_HPC_NNZ));
    double* Hcc = (double*)malloc(sizeof(double) * COMPOT_A(COMPOT_HCC_NNZ));
    double* psi = (double*)calloc(N * COMPOT_A(NPSI), sizeof(double));
    double* chi = (double*)calloc(N * COMPOT_A(NCHI), sizeof(double));
    double* U = (double*)calloc(N * COMPOT_A(NPSI), sizeof(double));
    double* V = (double*)calloc(N * COMPOT_A(NCHI), sizeof(double));
    double* dpsi = (double*)calloc(N * COMPOT_A(NPSI * NB), sizeof(double));
    double* dchi = (double*)calloc(N * COMPOT_A(NCHI * NB), sizeof(double));
    double* dW = (double*)calloc(N * COMPOT_A(WN), sizeof(double));
    double* dV = (double*)calloc(N * COMPOT_A(VN), sizeof(double));
    int status = 0;
#if COMPOT_NMB > 0
    compot_groups G = {NULL, NULL, 0};
    compot_nbrs Nb = {0, NULL, NULL, NULL, NULL, NULL, NULL};
    double* M = (double*)malloc(sizeof(double) * COMPOT_A(N) * COMPOT_NM);
    double* dM = (double*)malloc(sizeof(double) * COMPOT_A(N) * COMPOT_NM * COMPOT_A(NB));
    double* Gm = (double*)malloc(sizeof(double) * COMPOT_NM * (1 + COMPOT_A(NB)));
    double* dMs = (double*)malloc(sizeof(double) * COMPOT_NM * 3 * (1 + COMPOT_A(NB)));
    double* D = (double*)malloc(sizeof(double) * COMPOT_NMB * 3);
    if (!M || !dM || !Gm || !dMs || !D) status = 1;
#endif
    if (!Fp || !Up || !Vp || !Hpp || !Hpc || !Hcc || !psi || !chi || !U || !V || !dpsi || !dchi ||
        !dW || !dV || status) {
        status = 1;
        goto done;
    }
    compot_precompute(p, q);
    memset(J, 0, sizeof(double) * (1 + 3 * N) * NP);
    if (JW) memset(JW, 0, sizeof(double) * 9 * NP);
    /* pass 1: psi and dpsi/dq (basis parameters only) */
    for (int k = 0; k < (COMPOT_NPSI2 > 0 ? npairs : 0); k++) {
        const double r = compot_norm(d + 3 * k);
        if (r >= COMPOT_CUTOFF) continue;
        compot_pair_jac(r, COMPOT_PTYPE(k), p, q, phi, dphi, phi_b, dphi_b);
        const size_t i = pi[k];
        for (size_t a = 0; a < COMPOT_NPSI2; a++) psi[i * NPSI + a] += phi[a];
        for (size_t a = 0; a < COMPOT_NPSI2 * NB; a++) dpsi[i * NPSI * NB + a] += phi_b[a];
    }
#if COMPOT_NMB > 0
    if (compot_group_pairs(n, npairs, pi, d, &G) ||
        compot_mb_all_psi(n, species, &G, pi, pj, d, p, q, psi, M, dpsi, dM) ||
        compot_nbrs_alloc(&Nb, G.maxnb, 1)) {
        status = 1;
        goto done;
    }
#endif
    /* pass 2: chi and dchi/dq */
    if (NCHI > 0) {
        for (int k = 0; k < npairs; k++) {
            const double r = compot_norm(d + 3 * k);
            if (r >= COMPOT_CUTOFF) continue;
            double fc, dfc;
            compot_cutoff(r, &fc, &dfc);
            const size_t i = pi[k], j = pj[k];
            for (size_t c = 0; c < NCHI; c++) {
                const size_t a = compot_chi_src[c];
                chi[i * NCHI + c] += fc * psi[j * NPSI + a];
                for (size_t b = 0; b < NB; b++)
                    dchi[(i * NCHI + c) * NB + b] += fc * dpsi[(j * NPSI + a) * NB + b];
            }
        }
    }
    /* atoms: energy row, and the tangents dW (= dU so far) and dV */
    for (size_t i = 0; i < N; i++) {
        double* U_i = U + i * NPSI;
        double* V_i = V + i * NCHI;
        const double* dpsi_i = dpsi + i * NPSI * NB;
        const double* dchi_i = dchi + i * NCHI * NB;
        double* dW_i = dW + i * WN;
        double* dV_i = dV + i * VN;
        const double e = compot_atom_jac(psi + i * NPSI, chi + i * NCHI, p, species[i], U_i, V_i, Fp,
                                         Up, Vp, Hpp, Hpc, Hcc);
        if (energies) energies[i] = e;
        for (size_t t = 0; t < NP; t++) J[t] += Fp[t];
        for (size_t b = 0; b < NB; b++) {
            double acc = 0.0;
            for (size_t a = 0; a < NPSI; a++) acc += U_i[a] * dpsi_i[a * NB + b];
            for (size_t c = 0; c < NCHI; c++) acc += V_i[c] * dchi_i[c * NB + b];
            J[compot_basis_param[b]] += acc;
        }
        for (int e2 = 0; e2 < COMPOT_UP_NNZ; e2++) dW_i[compot_up_to_w[e2]] += Up[e2];
        for (int e2 = 0; e2 < COMPOT_VP_NNZ; e2++) dV_i[compot_vp_to_v[e2]] += Vp[e2];
        for (int e2 = 0; e2 < COMPOT_HPP_NNZ; e2++) {
            const int a = compot_hpp_row[e2], b2 = compot_hpp_col[e2];
            for (size_t b = 0; b < NB; b++) dW_i[compot_w_basis[a * NB + b]] += Hpp[e2] * dpsi_i[b2 * NB + b];
        }
        for (int e2 = 0; e2 < COMPOT_HPC_NNZ; e2++) {
            const int a = compot_hpc_row[e2], c = compot_hpc_col[e2];
            for (size_t b = 0; b < NB; b++) {
                dW_i[compot_w_basis[a * NB + b]] += Hpc[e2] * dchi_i[c * NB + b];
                dV_i[compot_v_basis[c * NB + b]] += Hpc[e2] * dpsi_i[a * NB + b];
            }
        }
        for (int e2 = 0; e2 < COMPOT_HCC_NNZ; e2++) {
            const int c = compot_hcc_row[e2], c2 = compot_hcc_col[e2];
            for (size_t b = 0; b < NB; b++) dV_i[compot_v_basis[c * NB + b]] += Hcc[e2] * dchi_i[c2 * NB + b];
        }
    }
    /* W = U + sum_i V(i) fc(r_ij), and its tangent (both in place) */
    if (NCHI > 0) {
        for (int k = 0; k < npairs; k++) {
            const double r = compot_norm(d + 3 * k);
            if (r >= COMPOT_CUTOFF) continue;
            double fc, dfc;
            compot_cutoff(r, &fc, &dfc);
            const size_t i = pi[k], j = pj[k];
            for (size_t c = 0; c < NCHI; c++) {
                U[j * NPSI + compot_chi_src[c]] += fc * V[i * NCHI + c];
                for (int e2 = compot_v_start[c]; e2 < compot_v_start[c + 1]; e2++)
                    dW[j * WN + compot_v_to_w[e2]] += fc * dV[i * VN + e2];
            }
        }
    }
    /* pass 3: pair force rows */
    if (forces) memset(forces, 0, sizeof(double) * 3 * N);
    for (int k = 0; k < npairs; k++) {
        const double* dk = d + 3 * k;
        const double r = compot_norm(dk);
        if (r >= COMPOT_CUTOFF) continue;
        const size_t i = pi[k], j = pj[k];
        compot_pair_jac(r, COMPOT_PTYPE(k), p, q, phi, dphi, phi_b, dphi_b);
        const double u[3] = {dk[0] / r, dk[1] / r, dk[2] / r};
        double* Ji = J + (1 + 3 * i) * NP;
        double* Jj = J + (1 + 3 * j) * NP;
        const double* W_i = U + i * NPSI;
        const double* dW_i = dW + i * WN;
        double g = 0.0;
        for (size_t a = 0; a < COMPOT_NPSI2; a++) {
            g += W_i[a] * dphi[a];
            for (int e2 = compot_w_start[a]; e2 < compot_w_start[a + 1]; e2++) {
                const double v = dW_i[e2] * dphi[a];
                compot_jpair(Ji, Jj, JW, NP, compot_w_col[e2], v, u, dk);
            }
        }
        for (size_t b = 0; b < NB; b++) {
            double v = 0.0;
            for (size_t a = 0; a < COMPOT_NPSI2; a++) v += W_i[a] * dphi_b[a * NB + b];
            compot_jpair(Ji, Jj, JW, NP, compot_basis_param[b], v, u, dk);
        }
        if (NCHI > 0) {
            double fc, dfc, h = 0.0;
            compot_cutoff(r, &fc, &dfc);
            for (size_t c = 0; c < NCHI; c++) {
                const size_t a = compot_chi_src[c];
                const double vic = V[i * NCHI + c], pj_a = psi[j * NPSI + a];
                h += vic * pj_a;
                for (int e2 = compot_v_start[c]; e2 < compot_v_start[c + 1]; e2++) {
                    const double v = dfc * dV[i * VN + e2] * pj_a;
                    compot_jpair(Ji, Jj, JW, NP, compot_v_col[e2], v, u, dk);
                }
                for (size_t b = 0; b < NB; b++) {
                    const double v = dfc * vic * dpsi[(j * NPSI + a) * NB + b];
                    compot_jpair(Ji, Jj, JW, NP, compot_basis_param[b], v, u, dk);
                }
            }
            g += dfc * h;
        }
        if (forces)
            for (int x = 0; x < 3; x++) { forces[3 * i + x] += g * u[x]; forces[3 * j + x] -= g * u[x]; }
    }
#if COMPOT_NMB > 0
    /* many-body force rows: dE/dd_s = sum_a G_a dM_a/dd_s, G = sum_k W_k dB_k/dM, so
     * d/dtheta = sum_k dW_k/dtheta dB_k/dd_s  (+ for basis parameters: the moments' own change) */
    for (size_t i = 0; i < N; i++) {
        const double* Mi = M + i * COMPOT_NM;
        const double* dMi = dM + i * COMPOT_NM * NB;
        const double* W3 = U + i * NPSI + COMPOT_NPSI2;
        const double* dW_i = dW + i * WN;
        double* Gq = Gm + COMPOT_NM;
        double* dMsq = dMs + COMPOT_NM * 3;
        compot_nbrs_load((int)i, &G, species, pi, pj, d, p, q, &Nb);
        compot_mb_adjoint(Mi, dMi, W3, Gm, NB ? Gq : NULL);
        double* Ji = J + (1 + 3 * i) * NP;
        for (int s = 0; s < Nb.m; s++) {
            const int k = G.order[G.start[i] + s];
            const double* dk = d + 3 * k;
            const size_t j = pj[k];
            double* Jj = J + (1 + 3 * j) * NP;
            compot_mb_moment_gradients(&Nb, s, dMs, NB ? dMsq : NULL);
            compot_mb_descriptor_gradients(Mi, dMs, D);   /* D_k = dB_k/dd_s */
            double f[3] = {0.0, 0.0, 0.0};
            for (int kk = 0; kk < COMPOT_NMB; kk++) {
                const double* Dk = D + kk * 3;
                for (int x = 0; x < 3; x++) f[x] += W3[kk] * Dk[x];
                const size_t a = COMPOT_NPSI2 + kk;
                for (int e2 = compot_w_start[a]; e2 < compot_w_start[a + 1]; e2++) {
                    const int t = compot_w_col[e2];
                    const double v = dW_i[e2];
                    compot_jpair(Ji, Jj, JW, NP, t, v, Dk, dk);
                }
            }
            for (size_t e = 0; e < NB; e++) {
                double v[3] = {0.0, 0.0, 0.0};
                for (int a = 0; a < COMPOT_NM; a++)
                    for (int x = 0; x < 3; x++)
                        v[x] += Gq[a * NB + e] * dMs[a * 3 + x] + Gm[a] * dMsq[(a * NB + e) * 3 + x];
                const int t = compot_basis_param[e];
                compot_jpair(Ji, Jj, JW, NP, t, 1.0, v, dk);
            }
            if (forces)
                for (int x = 0; x < 3; x++) { forces[3 * i + x] += f[x]; forces[3 * j + x] -= f[x]; }
        }
    }
#endif
done:
#if COMPOT_NMB > 0
    compot_groups_free(&G);
    compot_nbrs_free(&Nb);
    free(M); free(dM); free(Gm); free(dMs); free(D);
#endif
    free(Fp); free(Up); free(Vp); free(Hpp); free(Hpc); free(Hcc);
    free(psi); free(chi); free(U); free(V); free(dpsi); free(dchi); free(dW); free(dV);
    return status;
}
