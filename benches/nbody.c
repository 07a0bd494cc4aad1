/* Benchmark: the classic five-body (Sun and the four giant planets) simulation in double
 * precision, STEPS time steps (argv[1]). Prints the energy before and after as bit patterns and
 * scaled integers. Built rv64gc it runs on the F/D instructions (fused multiply-adds included);
 * built rv64imac it runs on the compiler's soft-float routines. */
#include "rt/rt.h"

#define NB 5
#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24

struct body { double x, y, z, vx, vy, vz, m; };

static struct body B[NB] = {
    {0, 0, 0, 0, 0, 0, SOLAR_MASS},
    {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
     1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
     -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS},
    {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
     -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
     2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS},
    {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
     2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
     -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS},
    {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
     2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
     -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS},
};

/* Square root: the fsqrt.d instruction when there is one, Newton's iteration otherwise. */
static double root(double x)
{
#ifdef __riscv_flen
    double r;
    __asm__("fsqrt.d %0, %1" : "=f"(r) : "f"(x));
    return r;
#else
    if (x <= 0)
        return 0;
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 200; i++) {
        double n = 0.5 * (r + x / r);
        if (n >= r)
            break;
        r = n;
    }
    return r;
#endif
}

static void offset_momentum(void)
{
    double px = 0, py = 0, pz = 0;
    for (int i = 0; i < NB; i++) {
        px += B[i].vx * B[i].m;
        py += B[i].vy * B[i].m;
        pz += B[i].vz * B[i].m;
    }
    B[0].vx = -px / SOLAR_MASS;
    B[0].vy = -py / SOLAR_MASS;
    B[0].vz = -pz / SOLAR_MASS;
}

static double energy(void)
{
    double e = 0;
    for (int i = 0; i < NB; i++) {
        e += 0.5 * B[i].m * (B[i].vx * B[i].vx + B[i].vy * B[i].vy + B[i].vz * B[i].vz);
        for (int j = i + 1; j < NB; j++) {
            double dx = B[i].x - B[j].x, dy = B[i].y - B[j].y, dz = B[i].z - B[j].z;
            e -= B[i].m * B[j].m / root(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static void advance(double dt)
{
    for (int i = 0; i < NB; i++) {
        for (int j = i + 1; j < NB; j++) {
            double dx = B[i].x - B[j].x, dy = B[i].y - B[j].y, dz = B[i].z - B[j].z;
            double d2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (d2 * root(d2));
            B[i].vx -= dx * B[j].m * mag;
            B[i].vy -= dy * B[j].m * mag;
            B[i].vz -= dz * B[j].m * mag;
            B[j].vx += dx * B[i].m * mag;
            B[j].vy += dy * B[i].m * mag;
            B[j].vz += dz * B[i].m * mag;
        }
    }
    for (int i = 0; i < NB; i++) {
        B[i].x += dt * B[i].vx;
        B[i].y += dt * B[i].vy;
        B[i].z += dt * B[i].vz;
    }
}

static void show(const char *what, double e)
{
    uint64_t bits;
    memcpy(&bits, &e, 8);
    long scaled = (long)(e * 1e9);
    printf("%s energy %016lx (%ld e-9)\n", what, (unsigned long)bits, scaled);
}

int main(int argc, char **argv)
{
    long steps = arg_long(argc, argv, 1, 1940000);
    offset_momentum();
    show("initial", energy());
    for (long s = 0; s < steps; s++)
        advance(0.01);
    show("final", energy());
    printf("nbody: %d bodies, %ld steps\n", NB, steps);
    return 0;
}
