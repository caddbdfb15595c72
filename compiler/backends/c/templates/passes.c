/* ---- compot physics passes (model independent; the model enters through the functions above) ----
 *
 * The chain rule of docs/theory.md §4, written once: the Cython kernel, the LAMMPS pair style and
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
 * int compot_jacobian(n, species, npairs, pi, pj, d, p, J[(1+3n)*NP], energies[n] or NULL, forces[3n] or NULL)
 *   J row 0: dE_total/dtheta; row 1+3i+x: dF_ix/dtheta (row-major, NP columns).  No ghosts.
 *
 * Arrays: phi[NPHI] holds the pair functions of one pair (the first NPSI2 are summed into the pair
 * descriptors psi[0..NPSI2), the rest are radial functions of three-body bases); psi[NPSI] holds the
 * pair descriptors followed by the N3 three-body descriptors.
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

#if COMPOT_N3 > 0
/* three-body passes over all atoms (the per-atom work is in compot_t3_psi and compot_t3_grad); the
 * caller groups the pairs by atom once (compot_group_pairs) for both passes */

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
    const size_t NPHI = COMPOT_NPHI, NB = COMPOT_NB;
    N->m = G->start[i + 1] - G->start[i];
    for (int s = 0; s < N->m; s++) {
        const int k = G->order[G->start[i] + s];
        const double r = compot_norm(d + 3 * k);
        N->r[s] = r;
        for (int x = 0; x < 3; x++) N->u[3 * s + x] = d[3 * k + x] / r;
        if (N->gb)
            compot_pair_jac(r, COMPOT_PTYPE(k), p, q, N->g + s * NPHI, N->dg + s * NPHI,
                            N->gb + s * NPHI * NB, N->dgb + s * NPHI * NB);
        else
            compot_pair(r, COMPOT_PTYPE(k), p, q, N->g + s * NPHI, N->dg + s * NPHI);
    }
}

/* three-body descriptors of all atoms, added to psi (and dpsi when not NULL) */
static int compot_t3_all_psi(int n, const int* species, const compot_groups* G, const int* pi,
                             const int* pj, const double* d, const double* p, const double* q,
                             double* psi, double* dpsi) {
    const size_t NPSI = COMPOT_NPSI, NB = COMPOT_NB;
    compot_nbrs N;
    if (compot_nbrs_alloc(&N, G->maxnb, dpsi != NULL)) { compot_nbrs_free(&N); return 1; }
    for (int i = 0; i < n; i++) {
        compot_nbrs_load(i, G, species, pi, pj, d, p, q, &N);
        compot_t3_psi(&N, psi + (size_t)i * NPSI + COMPOT_NPSI2,
                      dpsi ? dpsi + ((size_t)i * NPSI + COMPOT_NPSI2) * NB : NULL);
    }
    compot_nbrs_free(&N);
    return 0;
}

/* three-body forces and virial from the descriptor adjoints W (NPSI per atom); with dW (NPSI*NP per
 * atom) and J != NULL also the force rows of the Jacobian */
static int compot_t3_forces(int n, const int* species, const compot_groups* G, const int* pi,
                            const int* pj, const double* d, const double* p, const double* q,
                            const double* W, const double* dW, double* forces, double* virial,
                            double* J) {
    const size_t NPSI = COMPOT_NPSI, NB = COMPOT_NB, N3 = COMPOT_N3, NP = COMPOT_NP;
    compot_nbrs N;
    const int jac = J != NULL;
    const size_t M = (size_t)COMPOT_A(G->maxnb);
    double* B = (double*)malloc(sizeof(double) * M * N3 * 3);
    double* dB = jac ? (double*)malloc(sizeof(double) * M * N3 * 3 * COMPOT_A(NB)) : NULL;
    double* gk = (double*)malloc(sizeof(double) * COMPOT_A(NP));
    if (compot_nbrs_alloc(&N, G->maxnb, jac) || !B || !gk || (jac && !dB)) {
        compot_nbrs_free(&N); free(B); free(dB); free(gk);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        compot_nbrs_load(i, G, species, pi, pj, d, p, q, &N);
        compot_t3_grad(&N, B, dB);
        const double* W3 = W + (size_t)i * NPSI + COMPOT_NPSI2;
        const double* dW3 = jac ? dW + ((size_t)i * NPSI + COMPOT_NPSI2) * NP : NULL;
        for (int s = 0; s < N.m; s++) {
            const int k = G->order[G->start[i] + s], j = pj[k];
            const double* Bs = B + (size_t)s * N3 * 3;
            for (int x = 0; x < 3; x++) {
                double f = 0.0;
                for (size_t m = 0; m < N3; m++) f += W3[m] * Bs[m * 3 + x];
                if (forces) { forces[3 * i + x] += f; forces[3 * j + x] -= f; }
                if (virial)
                    for (int y = 0; y < 3; y++) virial[3 * y + x] += d[3 * k + y] * f;
                if (!jac) continue;
                for (size_t t = 0; t < NP; t++) gk[t] = 0.0;
                for (size_t m = 0; m < N3; m++) {
                    const double b = Bs[m * 3 + x];
                    const double* dWm = dW3 + m * NP;
                    for (size_t t = 0; t < NP; t++) gk[t] += dWm[t] * b;
                    const double* dBm = dB + ((size_t)s * N3 * 3 + m * 3 + x) * NB;
                    for (size_t e = 0; e < NB; e++) gk[compot_basis_param[e]] += W3[m] * dBm[e];
                }
                double* Ji = J + (1 + 3 * (size_t)i + x) * NP;
                double* Jj = J + (1 + 3 * (size_t)j + x) * NP;
                for (size_t t = 0; t < NP; t++) { Ji[t] += gk[t]; Jj[t] -= gk[t]; }
            }
        }
    }
    compot_nbrs_free(&N);
    free(B); free(dB); free(gk);
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
#if COMPOT_N3 > 0
    compot_groups G;
    const int status = compot_group_pairs(n, npairs, pi, d, &G) ||
                       compot_t3_all_psi(n, species, &G, pi, pj, d, p, q, psi, NULL);
    compot_groups_free(&G);
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

/* energies, forces and virial on up to nthreads threads (small systems run on one) */
static int compot_energy_forces_nt(int nthreads, int nlocal, int nall, const int* species, int npairs,
                                   const int* pi, const int* pj, const double* d, const double* p,
                                   const compot_comm* comm, double* energies, double* forces,
                                   double* virial)
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
    int status = 0;
#if COMPOT_N3 > 0
    compot_groups G;
    status = compot_group_pairs(nlocal, npairs, pi, d, &G) ||
             compot_t3_all_psi(nlocal, species, &G, pi, pj, d, p, q, psi, NULL);
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
#if COMPOT_N3 > 0
    status = compot_t3_forces(nlocal, species, &G, pi, pj, d, p, q, U, NULL, forces, vir0, NULL);
done:
    compot_groups_free(&G);
#endif
    if (virial)
        for (int x = 0; x < 9; x++) virial[x] += vir0[x];
    free(psi); free(chi); free(U); free(V); free(bufs); compot_half_free(&H);
    return status;
}

/* compot_energy_forces_nt without ghosts, on compot_set_threads(t) threads */
static int compot_energy_forces(int n, const int* species, int npairs, const int* pi, const int* pj,
                                const double* d, const double* p, double* energies, double* forces,
                                double* virial)
{
    return compot_energy_forces_nt(compot_nthreads, n, n, species, npairs, pi, pj, d, p, NULL,
                                   energies, forces, virial);
}

static int compot_jacobian(int n, const int* species, int npairs, const int* pi, const int* pj,
                           const double* d, const double* p, double* J, double* energies,
                           double* forces)
{
    const size_t NP = COMPOT_NP, NPSI = COMPOT_NPSI, NCHI = COMPOT_NCHI, NB = COMPOT_NB;
    double q[COMPOT_A(COMPOT_NQ)];
    double phi[COMPOT_A(COMPOT_NPHI)], dphi[COMPOT_A(COMPOT_NPHI)];
    double phi_b[COMPOT_A(COMPOT_NPHI * COMPOT_NB)], dphi_b[COMPOT_A(COMPOT_NPHI * COMPOT_NB)];
    double Fp[COMPOT_A(COMPOT_NP)], gk[COMPOT_A(COMPOT_NP)];
    double* psi = (double*)calloc((size_t)n * COMPOT_A(NPSI), sizeof(double));
    double* chi = (double*)calloc((size_t)n * COMPOT_A(NCHI), sizeof(double));
    double* U = (double*)calloc((size_t)n * COMPOT_A(NPSI), sizeof(double));
    double* V = (double*)calloc((size_t)n * COMPOT_A(NCHI), sizeof(double));
    double* dpsi = (double*)calloc((size_t)n * COMPOT_A(NPSI * NB), sizeof(double));
    double* dchi = (double*)calloc((size_t)n * COMPOT_A(NCHI * NB), sizeof(double));
    double* dU = (double*)calloc((size_t)n * COMPOT_A(NPSI * NP), sizeof(double));
    double* dV = (double*)calloc((size_t)n * COMPOT_A(NCHI * NP), sizeof(double));
    double* Up = (double*)calloc(COMPOT_A(NPSI * NP), sizeof(double));
    double* Vp = (double*)calloc(COMPOT_A(NCHI * NP), sizeof(double));
    double* Hpp = (double*)calloc(COMPOT_A(NPSI * NPSI), sizeof(double));
    double* Hpc = (double*)calloc(COMPOT_A(NPSI * NCHI), sizeof(double));
    double* Hcc = (double*)calloc(COMPOT_A(NCHI * NCHI), sizeof(double));
    int status = 0;
    if (!psi || !chi || !U || !V || !dpsi || !dchi || !dU || !dV || !Up || !Vp || !Hpp || !Hpc || !Hcc) {
        status = 1;
        goto done;
    }
    compot_precompute(p, q);
    memset(J, 0, sizeof(double) * (1 + 3 * (size_t)n) * NP);
    /* pass 1: psi and dpsi/dq (basis parameters only) */
    for (int k = 0; k < (COMPOT_NPSI2 > 0 ? npairs : 0); k++) {
        const double r = compot_norm(d + 3 * k);
        if (r >= COMPOT_CUTOFF) continue;
        compot_pair_jac(r, COMPOT_PTYPE(k), p, q, phi, dphi, phi_b, dphi_b);
        const size_t i = pi[k];
        for (size_t a = 0; a < COMPOT_NPSI2; a++) psi[i * NPSI + a] += phi[a];
        for (size_t a = 0; a < COMPOT_NPSI2 * NB; a++) dpsi[i * NPSI * NB + a] += phi_b[a];
    }
#if COMPOT_N3 > 0
    compot_groups G;
    if (compot_group_pairs(n, npairs, pi, d, &G) ||
        compot_t3_all_psi(n, species, &G, pi, pj, d, p, q, psi, dpsi)) {
        compot_groups_free(&G);
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
    /* atoms: energy row, and tangents dU/dtheta, dV/dtheta */
    for (int ii = 0; ii < n; ii++) {
        const size_t i = ii;
        double* U_i = U + i * NPSI;
        double* V_i = V + i * NCHI;
        const double* dpsi_i = dpsi + i * NPSI * NB;
        const double* dchi_i = dchi + i * NCHI * NB;
        const double e = compot_atom_jac(psi + i * NPSI, chi + i * NCHI, p, species[i], U_i, V_i, Fp,
                                         Up, Vp, Hpp, Hpc, Hcc);
        if (energies) energies[i] = e;
        for (size_t t = 0; t < NP; t++) J[t] += Fp[t];
        double* dU_i = dU + i * NPSI * NP;
        double* dV_i = dV + i * NCHI * NP;
        memcpy(dU_i, Up, sizeof(double) * NPSI * NP);
        memcpy(dV_i, Vp, sizeof(double) * NCHI * NP);
        for (size_t b = 0; b < NB; b++) {
            const size_t t = compot_basis_param[b];
            double acc = 0.0;
            for (size_t a = 0; a < NPSI; a++) acc += U_i[a] * dpsi_i[a * NB + b];
            for (size_t c = 0; c < NCHI; c++) acc += V_i[c] * dchi_i[c * NB + b];
            J[t] += acc;
            for (size_t a = 0; a < NPSI; a++) {
                double s = 0.0;
                for (size_t c = 0; c < NPSI; c++) s += Hpp[a * NPSI + c] * dpsi_i[c * NB + b];
                for (size_t c = 0; c < NCHI; c++) s += Hpc[a * NCHI + c] * dchi_i[c * NB + b];
                dU_i[a * NP + t] += s;
            }
            for (size_t c = 0; c < NCHI; c++) {
                double s = 0.0;
                for (size_t a = 0; a < NPSI; a++) s += Hpc[a * NCHI + c] * dpsi_i[a * NB + b];
                for (size_t e2 = 0; e2 < NCHI; e2++) s += Hcc[c * NCHI + e2] * dchi_i[e2 * NB + b];
                dV_i[c * NP + t] += s;
            }
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
                const size_t a = compot_chi_src[c];
                U[j * NPSI + a] += fc * V[i * NCHI + c];
                double* dW = dU + (j * NPSI + a) * NP;
                const double* dVc = dV + (i * NCHI + c) * NP;
                for (size_t t = 0; t < NP; t++) dW[t] += fc * dVc[t];
            }
        }
    }
    /* pass 3: force rows */
    if (forces) memset(forces, 0, sizeof(double) * 3 * (size_t)n);
    for (int k = 0; k < npairs; k++) {
        const double* dk = d + 3 * k;
        const double r = compot_norm(dk);
        if (r >= COMPOT_CUTOFF) continue;
        const size_t i = pi[k], j = pj[k];
        compot_pair_jac(r, COMPOT_PTYPE(k), p, q, phi, dphi, phi_b, dphi_b);
        const double* W_i = U + i * NPSI;
        const double* dW_i = dU + i * NPSI * NP;
        double g = 0.0;
        for (size_t t = 0; t < NP; t++) gk[t] = 0.0;
        for (size_t a = 0; a < COMPOT_NPSI2; a++) {
            g += W_i[a] * dphi[a];
            const double da = dphi[a];
            const double* dWa = dW_i + a * NP;
            for (size_t t = 0; t < NP; t++) gk[t] += dWa[t] * da;
            for (size_t b = 0; b < NB; b++) gk[compot_basis_param[b]] += W_i[a] * dphi_b[a * NB + b];
        }
        if (NCHI > 0) {
            double fc, dfc, h = 0.0;
            compot_cutoff(r, &fc, &dfc);
            for (size_t c = 0; c < NCHI; c++) {
                const size_t a = compot_chi_src[c];
                const double vic = V[i * NCHI + c], pj_a = psi[j * NPSI + a];
                h += vic * pj_a;
                const double* dVc = dV + (i * NCHI + c) * NP;
                for (size_t t = 0; t < NP; t++) gk[t] += dfc * dVc[t] * pj_a;
                for (size_t b = 0; b < NB; b++)
                    gk[compot_basis_param[b]] += dfc * vic * dpsi[(j * NPSI + a) * NB + b];
            }
            g += dfc * h;
        }
        for (int x = 0; x < 3; x++) {
            const double u = dk[x] / r;
            if (forces) { forces[3 * i + x] += g * u; forces[3 * j + x] -= g * u; }
            double* Ji = J + (1 + 3 * i + x) * NP;
            double* Jj = J + (1 + 3 * j + x) * NP;
            for (size_t t = 0; t < NP; t++) { Ji[t] += gk[t] * u; Jj[t] -= gk[t] * u; }
        }
    }
#if COMPOT_N3 > 0
    status = compot_t3_forces(n, species, &G, pi, pj, d, p, q, U, dU, forces, NULL, J);
    compot_groups_free(&G);
#endif
done:
    free(psi); free(chi); free(U); free(V); free(dpsi); free(dchi); free(dU); free(dV);
    free(Up); free(Vp); free(Hpp); free(Hpc); free(Hcc);
    return status;
}
