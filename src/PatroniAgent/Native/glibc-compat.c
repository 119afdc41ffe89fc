/*
 * Linked into the released binaries by scripts/publish.sh, with -Wl,--wrap=log -Wl,--wrap=pow: glibc
 * 2.29 gave log and pow new symbol versions, which the .NET runtime's calls would otherwise bind to,
 * and a binary that asks for GLIBC_2.29 does not start on glibc 2.28 (RHEL 8 and its rebuilds). The
 * linker sends every call of log and pow here, and these call the versions every glibc has. The
 * results are the same: on newer glibc the old versions call the new code.
 */
#if defined(__x86_64__)
#define GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define GLIBC_BASE "GLIBC_2.17"
#else
#error "only x86-64 and arm64 are built"
#endif

extern double log_base(double x);
extern double pow_base(double x, double y);
__asm__(".symver log_base, log@" GLIBC_BASE);
__asm__(".symver pow_base, pow@" GLIBC_BASE);

double __wrap_log(double x) { return log_base(x); }
double __wrap_pow(double x, double y) { return pow_base(x, y); }
