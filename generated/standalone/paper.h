/* compot 0.2.0 generated kernel -- do not edit.
 * model: cutoff = 5.0; elements = Nb; E[G8L4] + N[E[G8L4]]
 * parameters (75): b1.alpha b1.beta t1.c[1,1] t1.c[1,2] t1.c[1,3] t1.c[1,4] t1.c[1,5] t1.c[1,6] t1.c[1,7] t1.c[1,8] t1.c[2,1] t1.c[2,2] t1.c[2,3] t1.c[2,4] t1.c[2,5] t1.c[2,6] t1.c[2,7] t1.c[2,8] t1.c[3,1] t1.c[3,2] t1.c[3,3] t1.c[3,4] t1.c[3,5] t1.c[3,6] t1.c[3,7] t1.c[3,8] t1.c[4,1] t1.c[4,2] t1.c[4,3] t1.c[4,4] t1.c[4,5] t1.c[4,6] t1.c[4,7] t1.c[4,8] t1.lambda[1] t1.lambda[2] t1.lambda[3] t1.lambda[4] t1.s t2.c[1,1] t2.c[1,2] t2.c[1,3] t2.c[1,4] t2.c[1,5] t2.c[1,6] t2.c[1,7] t2.c[1,8] t2.c[2,1] t2.c[2,2] t2.c[2,3] t2.c[2,4] t2.c[2,5] t2.c[2,6] t2.c[2,7] t2.c[2,8] t2.c[3,1] t2.c[3,2] t2.c[3,3] t2.c[3,4] t2.c[3,5] t2.c[3,6] t2.c[3,7] t2.c[3,8] t2.c[4,1] t2.c[4,2] t2.c[4,3] t2.c[4,4] t2.c[4,5] t2.c[4,6] t2.c[4,7] t2.c[4,8] t2.lambda[1] t2.lambda[2] t2.lambda[3] t2.lambda[4]
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
#define COMPOT_NP 75
#define COMPOT_NPSI 8
#define COMPOT_NPSI2 8
#define COMPOT_NPHI 8
#define COMPOT_NMB 0
#define COMPOT_NCHI 8
#define COMPOT_NB 2
#define COMPOT_NQ 56
#define COMPOT_NSPECIES 1
#define COMPOT_CUTOFF 5.0
#define COMPOT_INV_RC 0.2
static const int compot_chi_src[8] = {0, 1, 2, 3, 4, 5, 6, 7};
static const int compot_basis_param[2] = {0, 1};
/* pair type of species (si, sj): compot_pair_type[si * NSPECIES + sj]; types: one */
static const int compot_pair_type[1] = {0};
/* sparse tangents of the Jacobian (docs/theory.md §5.3) */
#define COMPOT_UP_NNZ 64
#define COMPOT_VP_NNZ 64
#define COMPOT_HPP_NNZ 8
#define COMPOT_HPC_NNZ 0
#define COMPOT_HCC_NNZ 8
#define COMPOT_W_NNZ 144
#define COMPOT_V_NNZ 80
static const int compot_w_start[9] = {0, 18, 36, 54, 72, 90, 108, 126, 144};
static const int compot_w_col[144] = {0, 1, 2, 10, 18, 26, 34, 35, 36, 37, 39, 47, 55, 63, 71, 72, 73, 74, 0, 1, 3, 11, 19, 27, 34, 35, 36, 37, 40, 48, 56, 64, 71, 72, 73, 74, 0, 1, 4, 12, 20, 28, 34, 35, 36, 37, 41, 49, 57, 65, 71, 72, 73, 74, 0, 1, 5, 13, 21, 29, 34, 35, 36, 37, 42, 50, 58, 66, 71, 72, 73, 74, 0, 1, 6, 14, 22, 30, 34, 35, 36, 37, 43, 51, 59, 67, 71, 72, 73, 74, 0, 1, 7, 15, 23, 31, 34, 35, 36, 37, 44, 52, 60, 68, 71, 72, 73, 74, 0, 1, 8, 16, 24, 32, 34, 35, 36, 37, 45, 53, 61, 69, 71, 72, 73, 74, 0, 1, 9, 17, 25, 33, 34, 35, 36, 37, 46, 54, 62, 70, 71, 72, 73, 74};
static const int compot_v_start[9] = {0, 10, 20, 30, 40, 50, 60, 70, 80};
static const int compot_v_col[80] = {0, 1, 39, 47, 55, 63, 71, 72, 73, 74, 0, 1, 40, 48, 56, 64, 71, 72, 73, 74, 0, 1, 41, 49, 57, 65, 71, 72, 73, 74, 0, 1, 42, 50, 58, 66, 71, 72, 73, 74, 0, 1, 43, 51, 59, 67, 71, 72, 73, 74, 0, 1, 44, 52, 60, 68, 71, 72, 73, 74, 0, 1, 45, 53, 61, 69, 71, 72, 73, 74, 0, 1, 46, 54, 62, 70, 71, 72, 73, 74};
static const int compot_up_to_w[64] = {2, 3, 4, 5, 6, 7, 8, 9, 20, 21, 22, 23, 24, 25, 26, 27, 38, 39, 40, 41, 42, 43, 44, 45, 56, 57, 58, 59, 60, 61, 62, 63, 74, 75, 76, 77, 78, 79, 80, 81, 92, 93, 94, 95, 96, 97, 98, 99, 110, 111, 112, 113, 114, 115, 116, 117, 128, 129, 130, 131, 132, 133, 134, 135};
static const int compot_vp_to_v[64] = {2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 18, 19, 22, 23, 24, 25, 26, 27, 28, 29, 32, 33, 34, 35, 36, 37, 38, 39, 42, 43, 44, 45, 46, 47, 48, 49, 52, 53, 54, 55, 56, 57, 58, 59, 62, 63, 64, 65, 66, 67, 68, 69, 72, 73, 74, 75, 76, 77, 78, 79};
static const int compot_v_to_w[80] = {0, 1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 136, 137, 138, 139, 140, 141, 142, 143};
static const int compot_w_basis[16] = {0, 1, 18, 19, 36, 37, 54, 55, 72, 73, 90, 91, 108, 109, 126, 127};
static const int compot_v_basis[16] = {0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51, 60, 61, 70, 71};
static const int compot_hpp_row[8] = {0, 1, 2, 3, 4, 5, 6, 7};
static const int compot_hpp_col[8] = {0, 1, 2, 3, 4, 5, 6, 7};
static const int compot_hpc_row[1] = {0};
static const int compot_hpc_col[1] = {0};
static const int compot_hcc_row[8] = {0, 1, 2, 3, 4, 5, 6, 7};
static const int compot_hcc_col[8] = {0, 1, 2, 3, 4, 5, 6, 7};

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
    const double u0 = p[0]*p[1];
    const double u1 = (p[1]*p[1]);
    const double u2 = p[0]*u1;
    const double u3 = (p[1]*p[1]*p[1]);
    const double u4 = p[0]*u3;
    const double u5 = (p[1]*p[1]*p[1]*p[1]);
    const double u6 = p[0]*u5;
    const double u7 = (p[1]*p[1]*p[1]*p[1]*p[1]);
    const double u8 = p[0]*u7;
    const double u9 = (p[1]*p[1]*p[1]*p[1]*p[1]*p[1]);
    const double u10 = p[0]*u9;
    const double u11 = (p[1]*p[1]*p[1]*p[1]*p[1]*p[1]*p[1]);
    const double u12 = p[0]*u11;
    const double u13 = 2*p[0];
    const double u14 = 2*u2;
    const double u15 = 2*u6;
    const double u16 = 2*u10;
    const double u17 = 2*p[1];
    const double u18 = (p[0]*p[0]);
    q[0] = -p[0];
    q[1] = -u0;
    q[2] = -u2;
    q[3] = -u4;
    q[4] = -u6;
    q[5] = -u8;
    q[6] = -u10;
    q[7] = -u12;
    q[8] = -u13;
    q[9] = -2*u0;
    q[10] = -u14;
    q[11] = -2*u4;
    q[12] = -u15;
    q[13] = -2*u8;
    q[14] = -u16;
    q[15] = -2*u12;
    q[16] = -p[1];
    q[17] = -u1;
    q[18] = -u3;
    q[19] = -3*u2;
    q[20] = -u5;
    q[21] = -4*u4;
    q[22] = -u7;
    q[23] = -5*u6;
    q[24] = -u9;
    q[25] = -6*u8;
    q[26] = -u11;
    q[27] = -7*u10;
    q[28] = u13;
    q[29] = -u17;
    q[30] = u14;
    q[31] = u17*u18;
    q[32] = -2*u1;
    q[33] = u15;
    q[34] = -4*u0;
    q[35] = 4*u18*u3;
    q[36] = -2*u3;
    q[37] = u16;
    q[38] = -6*u2;
    q[39] = 6*u18*u7;
    q[40] = -2*u5;
    q[41] = (p[1]*p[1]*p[1]*p[1]*p[1]*p[1]*p[1]*p[1])*u13;
    q[42] = -8*u4;
    q[43] = 8*u11*u18;
    q[44] = -2*u7;
    q[45] = pow(p[1], 10)*u13;
    q[46] = -10*u6;
    q[47] = 10*pow(p[1], 9)*u18;
    q[48] = -2*u9;
    q[49] = pow(p[1], 12)*u13;
    q[50] = -12*u8;
    q[51] = 12*pow(p[1], 11)*u18;
    q[52] = -2*u11;
    q[53] = pow(p[1], 14)*u13;
    q[54] = -14*u10;
    q[55] = 14*pow(p[1], 13)*u18;
}

/* pair functions phi_a(r) and d phi_a/dr, a = 0..NPHI-1, for pair type t */
static inline void compot_pair(const double r, const int t, const double* p, const double* q,
                               double* phi, double* dphi) {
    (void)p; (void)q; (void)r; (void)t;
    double fc, dfc;
    compot_cutoff(r, &fc, &dfc);
    memset(phi, 0, sizeof(double) * 8);
    memset(dphi, 0, sizeof(double) * 8);
    double tx[8];
    const double ta0 = (r*r);
    tx[0] = q[0]*ta0;
    tx[1] = q[1]*ta0;
    tx[2] = q[2]*ta0;
    tx[3] = q[3]*ta0;
    tx[4] = q[4]*ta0;
    tx[5] = q[5]*ta0;
    tx[6] = q[6]*ta0;
    tx[7] = q[7]*ta0;
    COMPOT_SIMD
    for (int m = 0; m < 8; m++) tx[m] = exp(tx[m]);
    const double t0 = fc*tx[0];
    const double t1 = fc*tx[1];
    const double t2 = fc*tx[2];
    const double t3 = fc*tx[3];
    const double t4 = fc*tx[4];
    const double t5 = fc*tx[5];
    const double t6 = fc*tx[6];
    const double t7 = fc*tx[7];
    phi[0] = t0;
    phi[1] = t1;
    phi[2] = t2;
    phi[3] = t3;
    phi[4] = t4;
    phi[5] = t5;
    phi[6] = t6;
    phi[7] = t7;
    dphi[0] = dfc*tx[0] + q[8]*r*t0;
    dphi[1] = dfc*tx[1] + q[9]*r*t1;
    dphi[2] = dfc*tx[2] + q[10]*r*t2;
    dphi[3] = dfc*tx[3] + q[11]*r*t3;
    dphi[4] = dfc*tx[4] + q[12]*r*t4;
    dphi[5] = dfc*tx[5] + q[13]*r*t5;
    dphi[6] = dfc*tx[6] + q[14]*r*t6;
    dphi[7] = dfc*tx[7] + q[15]*r*t7;
}

/* as compot_pair, plus derivatives by the basis parameters: phi_b[a*NB+b], dphi_b[a*NB+b] */
static inline void compot_pair_jac(const double r, const int t, const double* p, const double* q,
                                   double* phi, double* dphi, double* phi_b, double* dphi_b) {
    (void)p; (void)q; (void)r; (void)t;
    double fc, dfc;
    compot_cutoff(r, &fc, &dfc);
    memset(phi, 0, sizeof(double) * 8);
    memset(dphi, 0, sizeof(double) * 8);
    memset(phi_b, 0, sizeof(double) * 16);
    memset(dphi_b, 0, sizeof(double) * 16);
    const double t0 = (r*r);
    const double t1 = q[0]*t0;
    const double t2 = exp(t1);
    const double t3 = fc*t2;
    const double t4 = exp(q[1]*t0);
    const double t5 = fc*t4;
    const double t6 = exp(q[2]*t0);
    const double t7 = fc*t6;
    const double t8 = exp(q[3]*t0);
    const double t9 = fc*t8;
    const double t10 = exp(q[4]*t0);
    const double t11 = fc*t10;
    const double t12 = exp(q[5]*t0);
    const double t13 = fc*t12;
    const double t14 = exp(q[6]*t0);
    const double t15 = fc*t14;
    const double t16 = exp(q[7]*t0);
    const double t17 = fc*t16;
    const double t18 = dfc*t2;
    const double t19 = r*t3;
    const double t20 = dfc*t4;
    const double t21 = r*t5;
    const double t22 = dfc*t6;
    const double t23 = r*t7;
    const double t24 = dfc*t8;
    const double t25 = r*t9;
    const double t26 = dfc*t10;
    const double t27 = r*t11;
    const double t28 = dfc*t12;
    const double t29 = r*t13;
    const double t30 = dfc*t14;
    const double t31 = r*t15;
    const double t32 = dfc*t16;
    const double t33 = r*t17;
    const double t34 = q[16]*t0;
    const double t35 = t0*t7;
    const double t36 = t0*t9;
    const double t37 = t0*t11;
    const double t38 = t0*t13;
    const double t39 = t0*t15;
    const double t40 = t0*t17;
    const double t41 = (r*r*r);
    const double t42 = t41*t5;
    const double t43 = t0*t22;
    const double t44 = t41*t7;
    const double t45 = t0*t24;
    const double t46 = t41*t9;
    const double t47 = t0*t26;
    const double t48 = t11*t41;
    const double t49 = t0*t28;
    const double t50 = t13*t41;
    const double t51 = t0*t30;
    const double t52 = t15*t41;
    const double t53 = t0*t32;
    const double t54 = t17*t41;
    phi[0] = t3;
    phi[1] = t5;
    phi[2] = t7;
    phi[3] = t9;
    phi[4] = t11;
    phi[5] = t13;
    phi[6] = t15;
    phi[7] = t17;
    dphi[0] = q[8]*t19 + t18;
    dphi[1] = q[9]*t21 + t20;
    dphi[2] = q[10]*t23 + t22;
    dphi[3] = q[11]*t25 + t24;
    dphi[4] = q[12]*t27 + t26;
    dphi[5] = q[13]*t29 + t28;
    dphi[6] = q[14]*t31 + t30;
    dphi[7] = q[15]*t33 + t32;
    phi_b[0] = -t0*t3;
    phi_b[2] = t34*t5;
    phi_b[3] = t1*t5;
    phi_b[4] = q[17]*t35;
    phi_b[5] = q[9]*t35;
    phi_b[6] = q[18]*t36;
    phi_b[7] = q[19]*t36;
    phi_b[8] = q[20]*t37;
    phi_b[9] = q[21]*t37;
    phi_b[10] = q[22]*t38;
    phi_b[11] = q[23]*t38;
    phi_b[12] = q[24]*t39;
    phi_b[13] = q[25]*t39;
    phi_b[14] = q[26]*t40;
    phi_b[15] = q[27]*t40;
    dphi_b[0] = fc*q[28]*t2*t41 - t0*t18 - 2*t19;
    dphi_b[2] = q[29]*t21 + q[30]*t42 + t20*t34;
    dphi_b[3] = q[31]*t42 + q[8]*t21 + t1*t20;
    dphi_b[4] = q[17]*t43 + q[32]*t23 + q[33]*t44;
    dphi_b[5] = q[34]*t23 + q[35]*t44 + q[9]*t43;
    dphi_b[6] = q[18]*t45 + q[36]*t25 + q[37]*t46;
    dphi_b[7] = q[19]*t45 + q[38]*t25 + q[39]*t46;
    dphi_b[8] = q[20]*t47 + q[40]*t27 + q[41]*t48;
    dphi_b[9] = q[21]*t47 + q[42]*t27 + q[43]*t48;
    dphi_b[10] = q[22]*t49 + q[44]*t29 + q[45]*t50;
    dphi_b[11] = q[23]*t49 + q[46]*t29 + q[47]*t50;
    dphi_b[12] = q[24]*t51 + q[48]*t31 + q[49]*t52;
    dphi_b[13] = q[25]*t51 + q[50]*t31 + q[51]*t52;
    dphi_b[14] = q[26]*t53 + q[52]*t33 + q[53]*t54;
    dphi_b[15] = q[27]*t53 + q[54]*t33 + q[55]*t54;
}

/* per-atom energy F(psi, chi; p) of an atom of species s; U = dF/dpsi, V = dF/dchi */
static inline double compot_atom(const double* psi, const double* chi, const double* p,
                                 const int s, double* U, double* V) {
    (void)psi; (void)chi; (void)p; (void)U; (void)V; (void)s;
    double F = 0.0;
    memset(U, 0, sizeof(double) * 8);
    memset(V, 0, sizeof(double) * 8);
    double tx[64];
    tx[0] = chi[0]*p[71];
    tx[1] = chi[0]*p[72];
    tx[2] = chi[0]*p[73];
    tx[3] = chi[0]*p[74];
    tx[4] = chi[1]*p[71];
    tx[5] = chi[1]*p[72];
    tx[6] = chi[1]*p[73];
    tx[7] = chi[1]*p[74];
    tx[8] = chi[2]*p[71];
    tx[9] = chi[2]*p[72];
    tx[10] = chi[2]*p[73];
    tx[11] = chi[2]*p[74];
    tx[12] = chi[3]*p[71];
    tx[13] = chi[3]*p[72];
    tx[14] = chi[3]*p[73];
    tx[15] = chi[3]*p[74];
    tx[16] = chi[4]*p[71];
    tx[17] = chi[4]*p[72];
    tx[18] = chi[4]*p[73];
    tx[19] = chi[4]*p[74];
    tx[20] = chi[5]*p[71];
    tx[21] = chi[5]*p[72];
    tx[22] = chi[5]*p[73];
    tx[23] = chi[5]*p[74];
    tx[24] = chi[6]*p[71];
    tx[25] = chi[6]*p[72];
    tx[26] = chi[6]*p[73];
    tx[27] = chi[6]*p[74];
    tx[28] = chi[7]*p[71];
    tx[29] = chi[7]*p[72];
    tx[30] = chi[7]*p[73];
    tx[31] = chi[7]*p[74];
    tx[32] = p[34]*psi[0];
    tx[33] = p[34]*psi[1];
    tx[34] = p[34]*psi[2];
    tx[35] = p[34]*psi[3];
    tx[36] = p[34]*psi[4];
    tx[37] = p[34]*psi[5];
    tx[38] = p[34]*psi[6];
    tx[39] = p[34]*psi[7];
    tx[40] = p[35]*psi[0];
    tx[41] = p[35]*psi[1];
    tx[42] = p[35]*psi[2];
    tx[43] = p[35]*psi[3];
    tx[44] = p[35]*psi[4];
    tx[45] = p[35]*psi[5];
    tx[46] = p[35]*psi[6];
    tx[47] = p[35]*psi[7];
    tx[48] = p[36]*psi[0];
    tx[49] = p[36]*psi[1];
    tx[50] = p[36]*psi[2];
    tx[51] = p[36]*psi[3];
    tx[52] = p[36]*psi[4];
    tx[53] = p[36]*psi[5];
    tx[54] = p[36]*psi[6];
    tx[55] = p[36]*psi[7];
    tx[56] = p[37]*psi[0];
    tx[57] = p[37]*psi[1];
    tx[58] = p[37]*psi[2];
    tx[59] = p[37]*psi[3];
    tx[60] = p[37]*psi[4];
    tx[61] = p[37]*psi[5];
    tx[62] = p[37]*psi[6];
    tx[63] = p[37]*psi[7];
    COMPOT_SIMD
    for (int m = 0; m < 64; m++) tx[m] = exp(tx[m]);
    const double t0 = p[10]*tx[40];
    const double t1 = p[11]*tx[41];
    const double t2 = p[12]*tx[42];
    const double t3 = p[13]*tx[43];
    const double t4 = p[14]*tx[44];
    const double t5 = p[15]*tx[45];
    const double t6 = p[16]*tx[46];
    const double t7 = p[17]*tx[47];
    const double t8 = p[18]*tx[48];
    const double t9 = p[19]*tx[49];
    const double t10 = p[20]*tx[50];
    const double t11 = p[21]*tx[51];
    const double t12 = p[22]*tx[52];
    const double t13 = p[23]*tx[53];
    const double t14 = p[24]*tx[54];
    const double t15 = p[25]*tx[55];
    const double t16 = p[26]*tx[56];
    const double t17 = p[27]*tx[57];
    const double t18 = p[28]*tx[58];
    const double t19 = p[29]*tx[59];
    const double t20 = p[2]*tx[32];
    const double t21 = p[30]*tx[60];
    const double t22 = p[31]*tx[61];
    const double t23 = p[32]*tx[62];
    const double t24 = p[33]*tx[63];
    const double t25 = p[39]*tx[0];
    const double t26 = p[3]*tx[33];
    const double t27 = p[40]*tx[4];
    const double t28 = p[41]*tx[8];
    const double t29 = p[42]*tx[12];
    const double t30 = p[43]*tx[16];
    const double t31 = p[44]*tx[20];
    const double t32 = p[45]*tx[24];
    const double t33 = p[46]*tx[28];
    const double t34 = p[47]*tx[1];
    const double t35 = p[48]*tx[5];
    const double t36 = p[49]*tx[9];
    const double t37 = p[4]*tx[34];
    const double t38 = p[50]*tx[13];
    const double t39 = p[51]*tx[17];
    const double t40 = p[52]*tx[21];
    const double t41 = p[53]*tx[25];
    const double t42 = p[54]*tx[29];
    const double t43 = p[55]*tx[2];
    const double t44 = p[56]*tx[6];
    const double t45 = p[57]*tx[10];
    const double t46 = p[58]*tx[14];
    const double t47 = p[59]*tx[18];
    const double t48 = p[5]*tx[35];
    const double t49 = p[60]*tx[22];
    const double t50 = p[61]*tx[26];
    const double t51 = p[62]*tx[30];
    const double t52 = p[63]*tx[3];
    const double t53 = p[64]*tx[7];
    const double t54 = p[65]*tx[11];
    const double t55 = p[66]*tx[15];
    const double t56 = p[67]*tx[19];
    const double t57 = p[68]*tx[23];
    const double t58 = p[69]*tx[27];
    const double t59 = p[6]*tx[36];
    const double t60 = p[70]*tx[31];
    const double t61 = p[7]*tx[37];
    const double t62 = p[8]*tx[38];
    const double t63 = p[9]*tx[39];
    F = p[38] + t0 + t1 + t10 + t11 + t12 + t13 + t14 + t15 + t16 + t17 + t18 + t19 + t2 + t20 + t21 + t22 + t23 + t24 + t25 + t26 + t27 + t28 + t29 + t3 + t30 + t31 + t32 + t33 + t34 + t35 + t36 + t37 + t38 + t39 + t4 + t40 + t41 + t42 + t43 + t44 + t45 + t46 + t47 + t48 + t49 + t5 + t50 + t51 + t52 + t53 + t54 + t55 + t56 + t57 + t58 + t59 + t6 + t60 + t61 + t62 + t63 + t7 + t8 + t9;
    U[0] = p[34]*t20 + p[35]*t0 + p[36]*t8 + p[37]*t16;
    U[1] = p[34]*t26 + p[35]*t1 + p[36]*t9 + p[37]*t17;
    U[2] = p[34]*t37 + p[35]*t2 + p[36]*t10 + p[37]*t18;
    U[3] = p[34]*t48 + p[35]*t3 + p[36]*t11 + p[37]*t19;
    U[4] = p[34]*t59 + p[35]*t4 + p[36]*t12 + p[37]*t21;
    U[5] = p[34]*t61 + p[35]*t5 + p[36]*t13 + p[37]*t22;
    U[6] = p[34]*t62 + p[35]*t6 + p[36]*t14 + p[37]*t23;
    U[7] = p[34]*t63 + p[35]*t7 + p[36]*t15 + p[37]*t24;
    V[0] = p[71]*t25 + p[72]*t34 + p[73]*t43 + p[74]*t52;
    V[1] = p[71]*t27 + p[72]*t35 + p[73]*t44 + p[74]*t53;
    V[2] = p[71]*t28 + p[72]*t36 + p[73]*t45 + p[74]*t54;
    V[3] = p[71]*t29 + p[72]*t38 + p[73]*t46 + p[74]*t55;
    V[4] = p[71]*t30 + p[72]*t39 + p[73]*t47 + p[74]*t56;
    V[5] = p[71]*t31 + p[72]*t40 + p[73]*t49 + p[74]*t57;
    V[6] = p[71]*t32 + p[72]*t41 + p[73]*t50 + p[74]*t58;
    V[7] = p[71]*t33 + p[72]*t42 + p[73]*t51 + p[74]*t60;
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
    memset(U, 0, sizeof(double) * 8);
    memset(V, 0, sizeof(double) * 8);
    memset(Fp, 0, sizeof(double) * 75);
    memset(Up, 0, sizeof(double) * 64);
    memset(Vp, 0, sizeof(double) * 64);
    memset(Hpp, 0, sizeof(double) * 8);
    memset(Hcc, 0, sizeof(double) * 8);
    const double t0 = p[35]*psi[0];
    const double t1 = exp(t0);
    const double t2 = p[10]*t1;
    const double t3 = p[35]*psi[1];
    const double t4 = exp(t3);
    const double t5 = p[11]*t4;
    const double t6 = p[35]*psi[2];
    const double t7 = exp(t6);
    const double t8 = p[12]*t7;
    const double t9 = p[35]*psi[3];
    const double t10 = exp(t9);
    const double t11 = p[13]*t10;
    const double t12 = p[35]*psi[4];
    const double t13 = exp(t12);
    const double t14 = p[14]*t13;
    const double t15 = p[35]*psi[5];
    const double t16 = exp(t15);
    const double t17 = p[15]*t16;
    const double t18 = p[35]*psi[6];
    const double t19 = exp(t18);
    const double t20 = p[16]*t19;
    const double t21 = p[35]*psi[7];
    const double t22 = exp(t21);
    const double t23 = p[17]*t22;
    const double t24 = p[36]*psi[0];
    const double t25 = exp(t24);
    const double t26 = p[18]*t25;
    const double t27 = p[36]*psi[1];
    const double t28 = exp(t27);
    const double t29 = p[19]*t28;
    const double t30 = p[36]*psi[2];
    const double t31 = exp(t30);
    const double t32 = p[20]*t31;
    const double t33 = p[36]*psi[3];
    const double t34 = exp(t33);
    const double t35 = p[21]*t34;
    const double t36 = p[36]*psi[4];
    const double t37 = exp(t36);
    const double t38 = p[22]*t37;
    const double t39 = p[36]*psi[5];
    const double t40 = exp(t39);
    const double t41 = p[23]*t40;
    const double t42 = p[36]*psi[6];
    const double t43 = exp(t42);
    const double t44 = p[24]*t43;
    const double t45 = p[36]*psi[7];
    const double t46 = exp(t45);
    const double t47 = p[25]*t46;
    const double t48 = p[37]*psi[0];
    const double t49 = exp(t48);
    const double t50 = p[26]*t49;
    const double t51 = p[37]*psi[1];
    const double t52 = exp(t51);
    const double t53 = p[27]*t52;
    const double t54 = p[37]*psi[2];
    const double t55 = exp(t54);
    const double t56 = p[28]*t55;
    const double t57 = p[37]*psi[3];
    const double t58 = exp(t57);
    const double t59 = p[29]*t58;
    const double t60 = p[34]*psi[0];
    const double t61 = exp(t60);
    const double t62 = p[2]*t61;
    const double t63 = p[37]*psi[4];
    const double t64 = exp(t63);
    const double t65 = p[30]*t64;
    const double t66 = p[37]*psi[5];
    const double t67 = exp(t66);
    const double t68 = p[31]*t67;
    const double t69 = p[37]*psi[6];
    const double t70 = exp(t69);
    const double t71 = p[32]*t70;
    const double t72 = p[37]*psi[7];
    const double t73 = exp(t72);
    const double t74 = p[33]*t73;
    const double t75 = chi[0]*p[71];
    const double t76 = exp(t75);
    const double t77 = p[39]*t76;
    const double t78 = p[34]*psi[1];
    const double t79 = exp(t78);
    const double t80 = p[3]*t79;
    const double t81 = chi[1]*p[71];
    const double t82 = exp(t81);
    const double t83 = p[40]*t82;
    const double t84 = chi[2]*p[71];
    const double t85 = exp(t84);
    const double t86 = p[41]*t85;
    const double t87 = chi[3]*p[71];
    const double t88 = exp(t87);
    const double t89 = p[42]*t88;
    const double t90 = chi[4]*p[71];
    const double t91 = exp(t90);
    const double t92 = p[43]*t91;
    const double t93 = chi[5]*p[71];
    const double t94 = exp(t93);
    const double t95 = p[44]*t94;
    const double t96 = chi[6]*p[71];
    const double t97 = exp(t96);
    const double t98 = p[45]*t97;
    const double t99 = chi[7]*p[71];
    const double t100 = exp(t99);
    const double t101 = p[46]*t100;
    const double t102 = chi[0]*p[72];
    const double t103 = exp(t102);
    const double t104 = p[47]*t103;
    const double t105 = chi[1]*p[72];
    const double t106 = exp(t105);
    const double t107 = p[48]*t106;
    const double t108 = chi[2]*p[72];
    const double t109 = exp(t108);
    const double t110 = p[49]*t109;
    const double t111 = p[34]*psi[2];
    const double t112 = exp(t111);
    const double t113 = p[4]*t112;
    const double t114 = chi[3]*p[72];
    const double t115 = exp(t114);
    const double t116 = p[50]*t115;
    const double t117 = chi[4]*p[72];
    const double t118 = exp(t117);
    const double t119 = p[51]*t118;
    const double t120 = chi[5]*p[72];
    const double t121 = exp(t120);
    const double t122 = p[52]*t121;
    const double t123 = chi[6]*p[72];
    const double t124 = exp(t123);
    const double t125 = p[53]*t124;
    const double t126 = chi[7]*p[72];
    const double t127 = exp(t126);
    const double t128 = p[54]*t127;
    const double t129 = chi[0]*p[73];
    const double t130 = exp(t129);
    const double t131 = p[55]*t130;
    const double t132 = chi[1]*p[73];
    const double t133 = exp(t132);
    const double t134 = p[56]*t133;
    const double t135 = chi[2]*p[73];
    const double t136 = exp(t135);
    const double t137 = p[57]*t136;
    const double t138 = chi[3]*p[73];
    const double t139 = exp(t138);
    const double t140 = p[58]*t139;
    const double t141 = chi[4]*p[73];
    const double t142 = exp(t141);
    const double t143 = p[59]*t142;
    const double t144 = p[34]*psi[3];
    const double t145 = exp(t144);
    const double t146 = p[5]*t145;
    const double t147 = chi[5]*p[73];
    const double t148 = exp(t147);
    const double t149 = p[60]*t148;
    const double t150 = chi[6]*p[73];
    const double t151 = exp(t150);
    const double t152 = p[61]*t151;
    const double t153 = chi[7]*p[73];
    const double t154 = exp(t153);
    const double t155 = p[62]*t154;
    const double t156 = chi[0]*p[74];
    const double t157 = exp(t156);
    const double t158 = p[63]*t157;
    const double t159 = chi[1]*p[74];
    const double t160 = exp(t159);
    const double t161 = p[64]*t160;
    const double t162 = chi[2]*p[74];
    const double t163 = exp(t162);
    const double t164 = p[65]*t163;
    const double t165 = chi[3]*p[74];
    const double t166 = exp(t165);
    const double t167 = p[66]*t166;
    const double t168 = chi[4]*p[74];
    const double t169 = exp(t168);
    const double t170 = p[67]*t169;
    const double t171 = chi[5]*p[74];
    const double t172 = exp(t171);
    const double t173 = p[68]*t172;
    const double t174 = chi[6]*p[74];
    const double t175 = exp(t174);
    const double t176 = p[69]*t175;
    const double t177 = p[34]*psi[4];
    const double t178 = exp(t177);
    const double t179 = p[6]*t178;
    const double t180 = chi[7]*p[74];
    const double t181 = exp(t180);
    const double t182 = p[70]*t181;
    const double t183 = p[34]*psi[5];
    const double t184 = exp(t183);
    const double t185 = p[7]*t184;
    const double t186 = p[34]*psi[6];
    const double t187 = exp(t186);
    const double t188 = p[8]*t187;
    const double t189 = p[34]*psi[7];
    const double t190 = exp(t189);
    const double t191 = p[9]*t190;
    const double t192 = (p[35]*p[35]);
    const double t193 = (p[36]*p[36]);
    const double t194 = (p[37]*p[37]);
    const double t195 = (p[34]*p[34]);
    const double t196 = (p[71]*p[71]);
    const double t197 = (p[72]*p[72]);
    const double t198 = (p[73]*p[73]);
    const double t199 = (p[74]*p[74]);
    F = p[38] + t101 + t104 + t107 + t11 + t110 + t113 + t116 + t119 + t122 + t125 + t128 + t131 + t134 + t137 + t14 + t140 + t143 + t146 + t149 + t152 + t155 + t158 + t161 + t164 + t167 + t17 + t170 + t173 + t176 + t179 + t182 + t185 + t188 + t191 + t2 + t20 + t23 + t26 + t29 + t32 + t35 + t38 + t41 + t44 + t47 + t5 + t50 + t53 + t56 + t59 + t62 + t65 + t68 + t71 + t74 + t77 + t8 + t80 + t83 + t86 + t89 + t92 + t95 + t98;
    U[0] = p[34]*t62 + p[35]*t2 + p[36]*t26 + p[37]*t50;
    U[1] = p[34]*t80 + p[35]*t5 + p[36]*t29 + p[37]*t53;
    U[2] = p[34]*t113 + p[35]*t8 + p[36]*t32 + p[37]*t56;
    U[3] = p[34]*t146 + p[35]*t11 + p[36]*t35 + p[37]*t59;
    U[4] = p[34]*t179 + p[35]*t14 + p[36]*t38 + p[37]*t65;
    U[5] = p[34]*t185 + p[35]*t17 + p[36]*t41 + p[37]*t68;
    U[6] = p[34]*t188 + p[35]*t20 + p[36]*t44 + p[37]*t71;
    U[7] = p[34]*t191 + p[35]*t23 + p[36]*t47 + p[37]*t74;
    V[0] = p[71]*t77 + p[72]*t104 + p[73]*t131 + p[74]*t158;
    V[1] = p[71]*t83 + p[72]*t107 + p[73]*t134 + p[74]*t161;
    V[2] = p[71]*t86 + p[72]*t110 + p[73]*t137 + p[74]*t164;
    V[3] = p[71]*t89 + p[72]*t116 + p[73]*t140 + p[74]*t167;
    V[4] = p[71]*t92 + p[72]*t119 + p[73]*t143 + p[74]*t170;
    V[5] = p[71]*t95 + p[72]*t122 + p[73]*t149 + p[74]*t173;
    V[6] = p[71]*t98 + p[72]*t125 + p[73]*t152 + p[74]*t176;
    V[7] = p[71]*t101 + p[72]*t128 + p[73]*t155 + p[74]*t182;
    Fp[2] = t61;
    Fp[3] = t79;
    Fp[4] = t112;
    Fp[5] = t145;
    Fp[6] = t178;
    Fp[7] = t184;
    Fp[8] = t187;
    Fp[9] = t190;
    Fp[10] = t1;
    Fp[11] = t4;
    Fp[12] = t7;
    Fp[13] = t10;
    Fp[14] = t13;
    Fp[15] = t16;
    Fp[16] = t19;
    Fp[17] = t22;
    Fp[18] = t25;
    Fp[19] = t28;
    Fp[20] = t31;
    Fp[21] = t34;
    Fp[22] = t37;
    Fp[23] = t40;
    Fp[24] = t43;
    Fp[25] = t46;
    Fp[26] = t49;
    Fp[27] = t52;
    Fp[28] = t55;
    Fp[29] = t58;
    Fp[30] = t64;
    Fp[31] = t67;
    Fp[32] = t70;
    Fp[33] = t73;
    Fp[34] = psi[0]*t62 + psi[1]*t80 + psi[2]*t113 + psi[3]*t146 + psi[4]*t179 + psi[5]*t185 + psi[6]*t188 + psi[7]*t191;
    Fp[35] = psi[0]*t2 + psi[1]*t5 + psi[2]*t8 + psi[3]*t11 + psi[4]*t14 + psi[5]*t17 + psi[6]*t20 + psi[7]*t23;
    Fp[36] = psi[0]*t26 + psi[1]*t29 + psi[2]*t32 + psi[3]*t35 + psi[4]*t38 + psi[5]*t41 + psi[6]*t44 + psi[7]*t47;
    Fp[37] = psi[0]*t50 + psi[1]*t53 + psi[2]*t56 + psi[3]*t59 + psi[4]*t65 + psi[5]*t68 + psi[6]*t71 + psi[7]*t74;
    Fp[38] = 1;
    Fp[39] = t76;
    Fp[40] = t82;
    Fp[41] = t85;
    Fp[42] = t88;
    Fp[43] = t91;
    Fp[44] = t94;
    Fp[45] = t97;
    Fp[46] = t100;
    Fp[47] = t103;
    Fp[48] = t106;
    Fp[49] = t109;
    Fp[50] = t115;
    Fp[51] = t118;
    Fp[52] = t121;
    Fp[53] = t124;
    Fp[54] = t127;
    Fp[55] = t130;
    Fp[56] = t133;
    Fp[57] = t136;
    Fp[58] = t139;
    Fp[59] = t142;
    Fp[60] = t148;
    Fp[61] = t151;
    Fp[62] = t154;
    Fp[63] = t157;
    Fp[64] = t160;
    Fp[65] = t163;
    Fp[66] = t166;
    Fp[67] = t169;
    Fp[68] = t172;
    Fp[69] = t175;
    Fp[70] = t181;
    Fp[71] = chi[0]*t77 + chi[1]*t83 + chi[2]*t86 + chi[3]*t89 + chi[4]*t92 + chi[5]*t95 + chi[6]*t98 + chi[7]*t101;
    Fp[72] = chi[0]*t104 + chi[1]*t107 + chi[2]*t110 + chi[3]*t116 + chi[4]*t119 + chi[5]*t122 + chi[6]*t125 + chi[7]*t128;
    Fp[73] = chi[0]*t131 + chi[1]*t134 + chi[2]*t137 + chi[3]*t140 + chi[4]*t143 + chi[5]*t149 + chi[6]*t152 + chi[7]*t155;
    Fp[74] = chi[0]*t158 + chi[1]*t161 + chi[2]*t164 + chi[3]*t167 + chi[4]*t170 + chi[5]*t173 + chi[6]*t176 + chi[7]*t182;
    Up[0] = p[34]*t61;
    Up[1] = p[35]*t1;
    Up[2] = p[36]*t25;
    Up[3] = p[37]*t49;
    Up[4] = t60*t62 + t62;
    Up[5] = t0*t2 + t2;
    Up[6] = t24*t26 + t26;
    Up[7] = t48*t50 + t50;
    Up[8] = p[34]*t79;
    Up[9] = p[35]*t4;
    Up[10] = p[36]*t28;
    Up[11] = p[37]*t52;
    Up[12] = t78*t80 + t80;
    Up[13] = t3*t5 + t5;
    Up[14] = t27*t29 + t29;
    Up[15] = t51*t53 + t53;
    Up[16] = p[34]*t112;
    Up[17] = p[35]*t7;
    Up[18] = p[36]*t31;
    Up[19] = p[37]*t55;
    Up[20] = t111*t113 + t113;
    Up[21] = t6*t8 + t8;
    Up[22] = t30*t32 + t32;
    Up[23] = t54*t56 + t56;
    Up[24] = p[34]*t145;
    Up[25] = p[35]*t10;
    Up[26] = p[36]*t34;
    Up[27] = p[37]*t58;
    Up[28] = t144*t146 + t146;
    Up[29] = t11*t9 + t11;
    Up[30] = t33*t35 + t35;
    Up[31] = t57*t59 + t59;
    Up[32] = p[34]*t178;
    Up[33] = p[35]*t13;
    Up[34] = p[36]*t37;
    Up[35] = p[37]*t64;
    Up[36] = t177*t179 + t179;
    Up[37] = t12*t14 + t14;
    Up[38] = t36*t38 + t38;
    Up[39] = t63*t65 + t65;
    Up[40] = p[34]*t184;
    Up[41] = p[35]*t16;
    Up[42] = p[36]*t40;
    Up[43] = p[37]*t67;
    Up[44] = t183*t185 + t185;
    Up[45] = t15*t17 + t17;
    Up[46] = t39*t41 + t41;
    Up[47] = t66*t68 + t68;
    Up[48] = p[34]*t187;
    Up[49] = p[35]*t19;
    Up[50] = p[36]*t43;
    Up[51] = p[37]*t70;
    Up[52] = t186*t188 + t188;
    Up[53] = t18*t20 + t20;
    Up[54] = t42*t44 + t44;
    Up[55] = t69*t71 + t71;
    Up[56] = p[34]*t190;
    Up[57] = p[35]*t22;
    Up[58] = p[36]*t46;
    Up[59] = p[37]*t73;
    Up[60] = t189*t191 + t191;
    Up[61] = t21*t23 + t23;
    Up[62] = t45*t47 + t47;
    Up[63] = t72*t74 + t74;
    Vp[0] = p[71]*t76;
    Vp[1] = p[72]*t103;
    Vp[2] = p[73]*t130;
    Vp[3] = p[74]*t157;
    Vp[4] = t75*t77 + t77;
    Vp[5] = t102*t104 + t104;
    Vp[6] = t129*t131 + t131;
    Vp[7] = t156*t158 + t158;
    Vp[8] = p[71]*t82;
    Vp[9] = p[72]*t106;
    Vp[10] = p[73]*t133;
    Vp[11] = p[74]*t160;
    Vp[12] = t81*t83 + t83;
    Vp[13] = t105*t107 + t107;
    Vp[14] = t132*t134 + t134;
    Vp[15] = t159*t161 + t161;
    Vp[16] = p[71]*t85;
    Vp[17] = p[72]*t109;
    Vp[18] = p[73]*t136;
    Vp[19] = p[74]*t163;
    Vp[20] = t84*t86 + t86;
    Vp[21] = t108*t110 + t110;
    Vp[22] = t135*t137 + t137;
    Vp[23] = t162*t164 + t164;
    Vp[24] = p[71]*t88;
    Vp[25] = p[72]*t115;
    Vp[26] = p[73]*t139;
    Vp[27] = p[74]*t166;
    Vp[28] = t87*t89 + t89;
    Vp[29] = t114*t116 + t116;
    Vp[30] = t138*t140 + t140;
    Vp[31] = t165*t167 + t167;
    Vp[32] = p[71]*t91;
    Vp[33] = p[72]*t118;
    Vp[34] = p[73]*t142;
    Vp[35] = p[74]*t169;
    Vp[36] = t90*t92 + t92;
    Vp[37] = t117*t119 + t119;
    Vp[38] = t141*t143 + t143;
    Vp[39] = t168*t170 + t170;
    Vp[40] = p[71]*t94;
    Vp[41] = p[72]*t121;
    Vp[42] = p[73]*t148;
    Vp[43] = p[74]*t172;
    Vp[44] = t93*t95 + t95;
    Vp[45] = t120*t122 + t122;
    Vp[46] = t147*t149 + t149;
    Vp[47] = t171*t173 + t173;
    Vp[48] = p[71]*t97;
    Vp[49] = p[72]*t124;
    Vp[50] = p[73]*t151;
    Vp[51] = p[74]*t175;
    Vp[52] = t96*t98 + t98;
    Vp[53] = t123*t125 + t125;
    Vp[54] = t150*t152 + t152;
    Vp[55] = t174*t176 + t176;
    Vp[56] = p[71]*t100;
    Vp[57] = p[72]*t127;
    Vp[58] = p[73]*t154;
    Vp[59] = p[74]*t181;
    Vp[60] = t101*t99 + t101;
    Vp[61] = t126*t128 + t128;
    Vp[62] = t153*t155 + t155;
    Vp[63] = t180*t182 + t182;
    Hpp[0] = t192*t2 + t193*t26 + t194*t50 + t195*t62;
    Hpp[1] = t192*t5 + t193*t29 + t194*t53 + t195*t80;
    Hpp[2] = t113*t195 + t192*t8 + t193*t32 + t194*t56;
    Hpp[3] = t11*t192 + t146*t195 + t193*t35 + t194*t59;
    Hpp[4] = t14*t192 + t179*t195 + t193*t38 + t194*t65;
    Hpp[5] = t17*t192 + t185*t195 + t193*t41 + t194*t68;
    Hpp[6] = t188*t195 + t192*t20 + t193*t44 + t194*t71;
    Hpp[7] = t191*t195 + t192*t23 + t193*t47 + t194*t74;
    Hcc[0] = t104*t197 + t131*t198 + t158*t199 + t196*t77;
    Hcc[1] = t107*t197 + t134*t198 + t161*t199 + t196*t83;
    Hcc[2] = t110*t197 + t137*t198 + t164*t199 + t196*t86;
    Hcc[3] = t116*t197 + t140*t198 + t167*t199 + t196*t89;
    Hcc[4] = t119*t197 + t143*t198 + t170*t199 + t196*t92;
    Hcc[5] = t122*t197 + t149*t198 + t173*t199 + t196*t95;
    Hcc[6] = t125*t197 + t152*t198 + t176*t199 + t196*t98;
    Hcc[7] = t101*t196 + t128*t197 + t155*t198 + t182*t199;
    return F;
}

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
