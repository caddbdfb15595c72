/* ---- many-body descriptors from moments (docs/theory.md §3.1, §3.2, §5.1) ----
 *
 * Per atom i the moments of its neighbours j (unit vector u, distance r, radial values g: the
 * NRAD functions compot_radial computes, a subset of the pair functions phi):
 *   block b:  M[off_b + n NLM_b + lm] = sum_j g_{rad_b[n]}(r_ij) Yhat_lm(u_ij),  l <= lmax_b
 *   selfs:    M[SELF_OFF + p] = sum_j g_a(r_ij) g_b(r_ij)   for the pairs p = (a, b)
 * and the descriptors as sums of products of moments, from the term table (k, coef, a, b, c, n):
 *   psi[NPSI2 + k] += coef sum_{i < n} M[a + i] (M[b + i]) (M[c + i])      (b, c = -1: absent)
 * The adjoint G = sum_k W_k dpsi_k/dM gives the force on neighbour slot s,
 *   dE/dd_s = sum_a G_a dM_a/dd_s,  dYhat(d/r)/dd = (grad_u Yhat - l Yhat u) / r
 * (Yhat is homogeneous of degree l, so u . grad_u Yhat = l Yhat). */

/* the neighbours of one atom: unit vectors, distances, radial values g, g' (NRAD each) and, when
 * gb != NULL, their derivatives by the basis parameters (NRAD * NB each) */
typedef struct { int m; double *u, *r, *g, *dg, *gb, *dgb; } compot_nbrs;

static int compot_nbrs_alloc(compot_nbrs* N, int maxnb, int jac) {
    const size_t M = (size_t)COMPOT_A(maxnb);
    N->u = (double*)malloc(sizeof(double) * 3 * M);
    N->r = (double*)malloc(sizeof(double) * M);
    N->g = (double*)malloc(sizeof(double) * M * COMPOT_NRAD);
    N->dg = (double*)malloc(sizeof(double) * M * COMPOT_NRAD);
    N->gb = jac ? (double*)malloc(sizeof(double) * M * COMPOT_NRAD * COMPOT_A(COMPOT_NB)) : NULL;
    N->dgb = jac ? (double*)malloc(sizeof(double) * M * COMPOT_NRAD * COMPOT_A(COMPOT_NB)) : NULL;
    return !N->u || !N->r || !N->g || !N->dg || (jac && (!N->gb || !N->dgb));
}

static void compot_nbrs_free(compot_nbrs* N) {
    free(N->u); free(N->r); free(N->g); free(N->dg); free(N->gb); free(N->dgb);
}

/* moments of one atom (M[NM], zeroed here) and, when dM != NULL, their derivatives by the basis
 * parameters dM[a * NB + e] */
static void compot_mb_moments(const compot_nbrs* N, double* M, double* dM) {
    const size_t NB = COMPOT_NB;
    double Y[COMPOT_NLM];
    memset(M, 0, sizeof(double) * COMPOT_NM);
    if (dM) memset(dM, 0, sizeof(double) * COMPOT_NM * COMPOT_A(NB));
    for (int s = 0; s < N->m; s++) {
        const double* g = N->g + s * COMPOT_NRAD;
        compot_ylm(N->u + 3 * s, Y, NULL);
        for (int b = 0; b < COMPOT_NBLOCK; b++) {
            const int nlm = (compot_blk_lmax[b] + 1) * (compot_blk_lmax[b] + 1);
            for (int n = 0; n < compot_blk_n[b]; n++) {
                const int f = compot_blk_rad[compot_blk_first[b] + n];
                double* Mn = M + compot_blk_off[b] + n * nlm;
                const double gn = g[f];
                for (int lm = 0; lm < nlm; lm++) Mn[lm] += gn * Y[lm];
                if (dM) {
                    const double* gbn = N->gb + (s * COMPOT_NRAD + f) * NB;
                    for (int lm = 0; lm < nlm; lm++)
                        for (size_t e = 0; e < NB; e++) dM[(compot_blk_off[b] + n * nlm + lm) * NB + e] += gbn[e] * Y[lm];
                }
            }
        }
        for (int p = 0; p < COMPOT_NSELF; p++) {
            const int a = compot_self_a[p], c = compot_self_b[p];
            M[COMPOT_SELF_OFF + p] += g[a] * g[c];
            if (dM) {
                const double *gba = N->gb + (s * COMPOT_NRAD + a) * NB, *gbc = N->gb + (s * COMPOT_NRAD + c) * NB;
                for (size_t e = 0; e < NB; e++) dM[(COMPOT_SELF_OFF + p) * NB + e] += gba[e] * g[c] + g[a] * gbc[e];
            }
        }
    }
}

/* the descriptors B[NMB] (zeroed here) from the moments, and when dM != NULL their derivatives by
 * the basis parameters dB[k * NB + e] (zeroed here) */
static void compot_mb_descriptors(const double* M, const double* dM, double* B, double* dB) {
    const size_t NB = COMPOT_NB;
    memset(B, 0, sizeof(double) * COMPOT_NMB);
    if (dB) memset(dB, 0, sizeof(double) * COMPOT_NMB * COMPOT_A(NB));
    for (int t = 0; t < COMPOT_NTERMS; t++) {
        const int k = compot_term_k[t], a = compot_term_a[t], b = compot_term_b[t], c = compot_term_c[t];
        const double w = compot_term_coef[t];
        if (c < 0 && b >= 0) {          /* a run: w sum_i M[a+i] M[b+i] */
            const int len = compot_term_n[t];
            double v = 0.0;
            for (int i = 0; i < len; i++) v += M[a + i] * M[b + i];
            B[k] += w * v;
            if (dB)
                for (size_t e = 0; e < NB; e++) {
                    double dv = 0.0;
                    for (int i = 0; i < len; i++) dv += dM[(a + i) * NB + e] * M[b + i] + M[a + i] * dM[(b + i) * NB + e];
                    dB[k * NB + e] += w * dv;
                }
            continue;
        }
        const double mb = b >= 0 ? M[b] : 1.0, mc = c >= 0 ? M[c] : 1.0;
        B[k] += w * M[a] * mb * mc;
        if (dB)
            for (size_t e = 0; e < NB; e++) {
                double d = dM[a * NB + e] * mb * mc;
                if (b >= 0) d += M[a] * dM[b * NB + e] * mc;
                if (c >= 0) d += M[a] * mb * dM[c * NB + e];
                dB[k * NB + e] += w * d;
            }
    }
}

/* the adjoint G[NM] = sum_k W[k] dB_k/dM (zeroed here); with dM != NULL also its derivative along
 * the basis parameters at fixed W, dG[a * NB + e] (zeroed here) */
static void compot_mb_adjoint(const double* M, const double* dM, const double* W, double* G, double* dG) {
    const size_t NB = COMPOT_NB;
    memset(G, 0, sizeof(double) * COMPOT_NM);
    if (dG) memset(dG, 0, sizeof(double) * COMPOT_NM * COMPOT_A(NB));
    for (int t = 0; t < COMPOT_NTERMS; t++) {
        const int k = compot_term_k[t], a = compot_term_a[t], b = compot_term_b[t], c = compot_term_c[t];
        const double w = W[k] * compot_term_coef[t];
        if (w == 0.0) continue;
        if (c < 0 && b >= 0) {          /* a run */
            const int len = compot_term_n[t];
            for (int i = 0; i < len; i++) { G[a + i] += w * M[b + i]; G[b + i] += w * M[a + i]; }
            if (dG)
                for (int i = 0; i < len; i++)
                    for (size_t e = 0; e < NB; e++) {
                        dG[(a + i) * NB + e] += w * dM[(b + i) * NB + e];
                        dG[(b + i) * NB + e] += w * dM[(a + i) * NB + e];
                    }
            continue;
        }
        const double mb = b >= 0 ? M[b] : 1.0, mc = c >= 0 ? M[c] : 1.0;
        G[a] += w * mb * mc;
        if (b >= 0) G[b] += w * M[a] * mc;
        if (c >= 0) G[c] += w * M[a] * mb;
        if (dG)
            for (size_t e = 0; e < NB; e++) {
                const double da = dM[a * NB + e], db = b >= 0 ? dM[b * NB + e] : 0.0,
                             dc = c >= 0 ? dM[c * NB + e] : 0.0;
                dG[a * NB + e] += w * (db * mc + mb * dc);
                if (b >= 0) dG[b * NB + e] += w * (da * mc + M[a] * dc);
                if (c >= 0) dG[c * NB + e] += w * (da * mb + M[a] * db);
            }
    }
}

/* dB_k/dd_s for every descriptor (D[3 k + x], zeroed here), from the moment gradients dMs */
static void compot_mb_descriptor_gradients(const double* M, const double* dMs, double* D) {
    memset(D, 0, sizeof(double) * COMPOT_NMB * 3);
    for (int t = 0; t < COMPOT_NTERMS; t++) {
        const int kk = compot_term_k[t], a = compot_term_a[t], b = compot_term_b[t], c = compot_term_c[t];
        const double w = compot_term_coef[t];
        if (c < 0 && b >= 0) {
            const int len = compot_term_n[t];
            for (int i = 0; i < len; i++)
                for (int x = 0; x < 3; x++)
                    D[kk * 3 + x] += w * (dMs[(a + i) * 3 + x] * M[b + i] + M[a + i] * dMs[(b + i) * 3 + x]);
            continue;
        }
        const double mb = b >= 0 ? M[b] : 1.0, mc = c >= 0 ? M[c] : 1.0;
        for (int x = 0; x < 3; x++) {
            double v = dMs[a * 3 + x] * mb * mc;
            if (b >= 0) v += M[a] * dMs[b * 3 + x] * mc;
            if (c >= 0) v += M[a] * mb * dMs[c * 3 + x];
            D[kk * 3 + x] += w * v;
        }
    }
}

/* dM_a/dd_s (3 per moment, dMs[a * 3 + x]) for neighbour slot s; with dMsq != NULL also their
 * derivatives by the basis parameters, dMsq[(a * NB + e) * 3 + x] */
static void compot_mb_moment_gradients(const compot_nbrs* N, int s, double* dMs, double* dMsq) {
    const size_t NB = COMPOT_NB;
    double Y[COMPOT_NLM], dY[3 * COMPOT_NLM];
    const double* u = N->u + 3 * s;
    const double r = N->r[s];
    const double* g = N->g + s * COMPOT_NRAD;
    const double* dg = N->dg + s * COMPOT_NRAD;
    compot_ylm(u, Y, dY);
    double Q[3 * COMPOT_NLM];   /* d Yhat_lm / dd = (grad_u Yhat - l Yhat u) / r */
    for (int lm = 0; lm < COMPOT_NLM; lm++)
        for (int x = 0; x < 3; x++) Q[3 * lm + x] = (dY[3 * lm + x] - compot_lm_l[lm] * Y[lm] * u[x]) / r;
    for (int b = 0; b < COMPOT_NBLOCK; b++) {
        const int nlm = (compot_blk_lmax[b] + 1) * (compot_blk_lmax[b] + 1);
        for (int n = 0; n < compot_blk_n[b]; n++) {
            const int f = compot_blk_rad[compot_blk_first[b] + n];
            const int a0 = compot_blk_off[b] + n * nlm;
            for (int lm = 0; lm < nlm; lm++)
                for (int x = 0; x < 3; x++) dMs[(a0 + lm) * 3 + x] = dg[f] * Y[lm] * u[x] + g[f] * Q[3 * lm + x];
            if (dMsq) {
                const double *gb = N->gb + (s * COMPOT_NRAD + f) * NB, *dgb = N->dgb + (s * COMPOT_NRAD + f) * NB;
                for (int lm = 0; lm < nlm; lm++)
                    for (size_t e = 0; e < NB; e++)
                        for (int x = 0; x < 3; x++)
                            dMsq[((a0 + lm) * NB + e) * 3 + x] = dgb[e] * Y[lm] * u[x] + gb[e] * Q[3 * lm + x];
            }
        }
    }
    for (int p = 0; p < COMPOT_NSELF; p++) {
        const int a = compot_self_a[p], c = compot_self_b[p];
        const double d = dg[a] * g[c] + g[a] * dg[c];
        for (int x = 0; x < 3; x++) dMs[(COMPOT_SELF_OFF + p) * 3 + x] = d * u[x];
        if (dMsq) {
            const double *gba = N->gb + (s * COMPOT_NRAD + a) * NB, *gbc = N->gb + (s * COMPOT_NRAD + c) * NB;
            const double *dgba = N->dgb + (s * COMPOT_NRAD + a) * NB, *dgbc = N->dgb + (s * COMPOT_NRAD + c) * NB;
            for (size_t e = 0; e < NB; e++) {
                const double q = dgba[e] * g[c] + dg[a] * gbc[e] + gba[e] * dg[c] + g[a] * dgbc[e];
                for (int x = 0; x < 3; x++) dMsq[((COMPOT_SELF_OFF + p) * NB + e) * 3 + x] = q * u[x];
            }
        }
    }
}

/* dE/dd_s for every neighbour slot s of one atom (fs[3 s + x]) from the adjoint G.  Per block the
 * radial sums T_lm = sum_n G[n, lm] g_n and T'_lm = sum_n G[n, lm] g'_n are formed first (runs of
 * multiply-adds over lm, which vectorise), then f = u sum_lm T'_lm Y_lm + sum_lm T_lm (dY_lm - l Y_lm u) / r. */
static void compot_mb_forces(const compot_nbrs* N, const double* G, double* fs) {
    double Y[COMPOT_NLM], dY[3 * COMPOT_NLM], T[COMPOT_NLM], Tp[COMPOT_NLM];
    for (int s = 0; s < N->m; s++) {
        const double* u = N->u + 3 * s;
        const double rinv = 1.0 / N->r[s];
        const double* g = N->g + s * COMPOT_NRAD;
        const double* dg = N->dg + s * COMPOT_NRAD;
        compot_ylm(u, Y, dY);
        double radial = 0.0, f[3] = {0.0, 0.0, 0.0};
        for (int b = 0; b < COMPOT_NBLOCK; b++) {
            const int nlm = (compot_blk_lmax[b] + 1) * (compot_blk_lmax[b] + 1);
            memset(T, 0, sizeof(double) * nlm);
            memset(Tp, 0, sizeof(double) * nlm);
            for (int n = 0; n < compot_blk_n[b]; n++) {
                const int fi = compot_blk_rad[compot_blk_first[b] + n];
                const double* Gn = G + compot_blk_off[b] + n * nlm;
                const double gn = g[fi], dgn = dg[fi];
                for (int lm = 0; lm < nlm; lm++) { T[lm] += Gn[lm] * gn; Tp[lm] += Gn[lm] * dgn; }
            }
            double gl = 0.0;
            for (int lm = 0; lm < nlm; lm++) {
                radial += Tp[lm] * Y[lm];
                gl += T[lm] * compot_lm_l[lm] * Y[lm];
                f[0] += T[lm] * dY[3 * lm];
                f[1] += T[lm] * dY[3 * lm + 1];
                f[2] += T[lm] * dY[3 * lm + 2];
            }
            radial -= gl * rinv;
        }
        for (int x = 0; x < 3; x++) f[x] *= rinv;
        for (int p = 0; p < COMPOT_NSELF; p++) {
            const int a = compot_self_a[p], c = compot_self_b[p];
            radial += G[COMPOT_SELF_OFF + p] * (dg[a] * g[c] + g[a] * dg[c]);
        }
        for (int x = 0; x < 3; x++) fs[3 * s + x] = f[x] + radial * u[x];
    }
}
