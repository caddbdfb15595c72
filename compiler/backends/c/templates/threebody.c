/* ---- three-body descriptors (SPEC 3.5), shared by the driver loops and the LAMMPS pair style ---- */
/*
 * psi_m(i) = sum_{j<k} T_m(j,k) P_l(c_jk),  T_m = phi_a(r_ij) phi_b(r_ik) + phi_b(r_ij) phi_a(r_ik),
 * c_jk = cos(theta_jik), for m = (a, b, l) = compot_t3[3m .. 3m+2] (phi indices and Legendre degree).
 * This is sum_{j!=k} S_ab(r_ij, r_ik) P_l(c_jk) with the symmetrised S_ab = T_m / 2.  The loops take
 * one atom at a time with its neighbours (pairs grouped by their first atom). */

/* Legendre polynomials P_0..P_LMAX and their derivatives at c */
static inline void compot_legendre(const double c, double* P, double* dP) {
    P[0] = 1.0; dP[0] = 0.0;
#if COMPOT_LMAX >= 1
    P[1] = c; dP[1] = 1.0;
    for (int l = 2; l <= COMPOT_LMAX; l++) {
        P[l] = ((2 * l - 1) * c * P[l - 1] - (l - 1) * P[l - 2]) / l;
        dP[l] = dP[l - 2] + (2 * l - 1) * P[l - 1];
    }
#endif
}

/* the neighbours of one atom: unit vectors, distances, pair functions (and their derivatives by
 * the basis parameters when gb != NULL) */
typedef struct { int m; double *u, *r, *g, *dg, *gb, *dgb; } compot_nbrs;

static int compot_nbrs_alloc(compot_nbrs* N, int maxnb, int jac) {
    const size_t M = (size_t)COMPOT_A(maxnb);
    N->u = (double*)malloc(sizeof(double) * 3 * M);
    N->r = (double*)malloc(sizeof(double) * M);
    N->g = (double*)malloc(sizeof(double) * M * COMPOT_A(COMPOT_NPHI));
    N->dg = (double*)malloc(sizeof(double) * M * COMPOT_A(COMPOT_NPHI));
    N->gb = jac ? (double*)malloc(sizeof(double) * M * COMPOT_A(COMPOT_NPHI * COMPOT_NB)) : NULL;
    N->dgb = jac ? (double*)malloc(sizeof(double) * M * COMPOT_A(COMPOT_NPHI * COMPOT_NB)) : NULL;
    return !N->u || !N->r || !N->g || !N->dg || (jac && (!N->gb || !N->dgb));
}

static void compot_nbrs_free(compot_nbrs* N) {
    free(N->u); free(N->r); free(N->g); free(N->dg); free(N->gb); free(N->dgb);
}

/* three-body descriptors of one atom, added to psi3[N3] (and dpsi3[N3*NB] when not NULL) */
static void compot_t3_psi(const compot_nbrs* N, double* psi3, double* dpsi3) {
    const size_t NPHI = COMPOT_NPHI, NB = COMPOT_NB;
    double P[COMPOT_LMAX + 1], dP[COMPOT_LMAX + 1];
    for (int s = 0; s < N->m; s++) {
        const double *us = N->u + 3 * s, *gs = N->g + s * NPHI;
        for (int t = s + 1; t < N->m; t++) {
            const double *ut = N->u + 3 * t, *gt = N->g + t * NPHI;
            compot_legendre(us[0] * ut[0] + us[1] * ut[1] + us[2] * ut[2], P, dP);
            for (int m = 0; m < COMPOT_N3; m++) {
                const int a = compot_t3[3 * m], b = compot_t3[3 * m + 1], l = compot_t3[3 * m + 2];
                psi3[m] += (gs[a] * gt[b] + gs[b] * gt[a]) * P[l];
                if (dpsi3) {
                    const double *gbs = N->gb + s * NPHI * NB, *gbt = N->gb + t * NPHI * NB;
                    for (size_t c = 0; c < NB; c++)
                        dpsi3[m * NB + c] += (gbs[a * NB + c] * gt[b] + gs[a] * gbt[b * NB + c] +
                                              gbs[b * NB + c] * gt[a] + gs[b] * gbt[a * NB + c]) * P[l];
                }
            }
        }
    }
}

/* dpsi3_m / d(d_s) for every neighbour s of one atom: B[(s*N3 + m)*3 + x], and when dB != NULL its
 * derivatives by the basis parameters dB[((s*N3 + m)*3 + x)*NB + c] (both zeroed here) */
static void compot_t3_grad(const compot_nbrs* N, double* B, double* dB) {
    const size_t NPHI = COMPOT_NPHI, NB = COMPOT_NB, N3 = COMPOT_N3;
    double P[COMPOT_LMAX + 1], dP[COMPOT_LMAX + 1];
    memset(B, 0, sizeof(double) * (size_t)N->m * N3 * 3);
    if (dB) memset(dB, 0, sizeof(double) * (size_t)N->m * N3 * 3 * NB);
    for (int s = 0; s < N->m; s++) {
        const double *us = N->u + 3 * s, *gs = N->g + s * NPHI, *dgs = N->dg + s * NPHI;
        for (int t = s + 1; t < N->m; t++) {
            const double *ut = N->u + 3 * t, *gt = N->g + t * NPHI, *dgt = N->dg + t * NPHI;
            const double c = us[0] * ut[0] + us[1] * ut[1] + us[2] * ut[2];
            double vs[3], vt[3];   /* d c / d d_s and d c / d d_t */
            for (int x = 0; x < 3; x++) {
                vs[x] = (ut[x] - c * us[x]) / N->r[s];
                vt[x] = (us[x] - c * ut[x]) / N->r[t];
            }
            compot_legendre(c, P, dP);
            for (size_t m = 0; m < N3; m++) {
                const int a = compot_t3[3 * m], b = compot_t3[3 * m + 1], l = compot_t3[3 * m + 2];
                const double T = gs[a] * gt[b] + gs[b] * gt[a];
                const double Ts = dgs[a] * gt[b] + dgs[b] * gt[a];
                const double Tt = gs[a] * dgt[b] + gs[b] * dgt[a];
                double* Bs = B + (s * N3 + m) * 3;
                double* Bt = B + (t * N3 + m) * 3;
                for (int x = 0; x < 3; x++) {
                    Bs[x] += Ts * P[l] * us[x] + T * dP[l] * vs[x];
                    Bt[x] += Tt * P[l] * ut[x] + T * dP[l] * vt[x];
                }
                if (dB) {
                    const double *gbs = N->gb + s * NPHI * NB, *gbt = N->gb + t * NPHI * NB;
                    const double *dgbs = N->dgb + s * NPHI * NB, *dgbt = N->dgb + t * NPHI * NB;
                    double* dBs = dB + (s * N3 + m) * 3 * NB;
                    double* dBt = dB + (t * N3 + m) * 3 * NB;
                    for (size_t e = 0; e < NB; e++) {
                        const double dT = gbs[a * NB + e] * gt[b] + gs[a] * gbt[b * NB + e] +
                                          gbs[b * NB + e] * gt[a] + gs[b] * gbt[a * NB + e];
                        const double dTs = dgbs[a * NB + e] * gt[b] + dgs[a] * gbt[b * NB + e] +
                                           dgbs[b * NB + e] * gt[a] + dgs[b] * gbt[a * NB + e];
                        const double dTt = gbs[a * NB + e] * dgt[b] + gs[a] * dgbt[b * NB + e] +
                                           gbs[b * NB + e] * dgt[a] + gs[b] * dgbt[a * NB + e];
                        for (int x = 0; x < 3; x++) {
                            dBs[x * NB + e] += dTs * P[l] * us[x] + dT * dP[l] * vs[x];
                            dBt[x * NB + e] += dTt * P[l] * ut[x] + dT * dP[l] * vt[x];
                        }
                    }
                }
            }
        }
    }
}
