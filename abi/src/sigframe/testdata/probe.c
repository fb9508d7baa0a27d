/* Lets the running Linux kernel build a signal frame, and reports it.
 *
 * Mode (argv[1]): "plain" (SIGUSR1 via tgkill on the normal stack), "alt"
 * (same on a sigaltstack), "autodisarm" (sigaltstack with SS_AUTODISARM),
 * "segv" (a real page fault). argv[2], if given, moves the stack pointer
 * down by that many bytes first, so runs cover every stack alignment. The
 * SA_SIGINFO handler copies the raw frame,
 * from its entry rsp (uc - 8) to the end of FP_XSTATE_MAGIC2, and records
 * the registers glibc's gregs[] shows. main prints "key=hex" lines. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static unsigned char saved[1 << 16];
static unsigned long saved_len;
static greg_t gregs[NGREG];
static uint64_t h_mask;
static uintptr_t h_uc, h_si, h_rsp;
static int h_sig, segv_mode;
static sigjmp_buf jb;

__attribute__((noinline, optimize("O0")))
static void handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	unsigned char *frame = (unsigned char *)ucv - 8;
	unsigned char *fp = (unsigned char *)uc->uc_mcontext.fpregs;
	uint32_t ext;

	memcpy(&ext, fp + 464 + 4, 4);	/* _fpx_sw_bytes.extended_size */
	saved_len = (unsigned long)(fp + ext - frame);
	if (saved_len > sizeof saved)
		saved_len = sizeof saved;
	memcpy(saved, frame, saved_len);
	memcpy(gregs, uc->uc_mcontext.gregs, sizeof gregs);
	memcpy(&h_mask, &uc->uc_sigmask, 8);
	h_uc = (uintptr_t)ucv;
	h_si = (uintptr_t)si;
	h_sig = sig;
	/* The return address (pretcode) sits at the entry rsp. */
	h_rsp = (uintptr_t)__builtin_frame_address(0) + 8;
	if (segv_mode)
		siglongjmp(jb, 1);
}

int main(int argc, char **argv)
{
	static unsigned char altbuf[65536] __attribute__((aligned(16)));
	const char *mode = argc > 1 ? argv[1] : "plain";
	int onstack = !strcmp(mode, "alt") || !strcmp(mode, "autodisarm");
	stack_t ss = { .ss_sp = altbuf, .ss_size = sizeof altbuf, .ss_flags = 0 };
	struct sigaction sa, cur;
	sigset_t m;
	uint32_t lo, hi;

	volatile char *pad = __builtin_alloca(argc > 2 ? (unsigned)atoi(argv[2]) + 1 : 1);

	pad[0] = 0;
	segv_mode = !strcmp(mode, "segv");
	if (!strcmp(mode, "autodisarm"))
		ss.ss_flags = SS_AUTODISARM;
	if (onstack && sigaltstack(&ss, NULL))
		return 1;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, 37);
	sigprocmask(SIG_BLOCK, &m, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | (onstack ? SA_ONSTACK : 0);
	if (sigaction(segv_mode ? SIGSEGV : SIGUSR1, &sa, NULL))
		return 1;
	sigaction(segv_mode ? SIGSEGV : SIGUSR1, NULL, &cur);
	if (segv_mode) {
		if (sigsetjmp(jb, 1) == 0)
			*(volatile int *)0x10 = 1;
	} else {
		syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1);
	}
	stack_t after;
	sigaltstack(NULL, &after);
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));

	printf("sig=%x\nuc=%lx\nsi=%lx\nentry_rsp=%lx\n", h_sig, (unsigned long)h_uc,
	       (unsigned long)h_si, (unsigned long)h_rsp);
	printf("handler=%lx\nrestorer=%lx\nsa_flags=%lx\n", (unsigned long)(uintptr_t)handler,
	       (unsigned long)(uintptr_t)cur.sa_restorer, (unsigned long)cur.sa_flags);
	printf("pid=%x\nuid=%x\nmask=%lx\nxcr0=%lx\n", getpid(), getuid(), (unsigned long)h_mask,
	       ((unsigned long)hi << 32) | lo);
	printf("alt_sp=%lx\nalt_size=%lx\nalt_flags=%x\nafter_flags=%x\n",
	       onstack ? (unsigned long)(uintptr_t)altbuf : 0UL,
	       onstack ? (unsigned long)sizeof altbuf : 0UL, onstack ? (unsigned)ss.ss_flags : 0U,
	       (unsigned)after.ss_flags);
#define G(r) printf(#r "=%lx\n", (unsigned long)gregs[REG_##r])
	G(R8); G(R9); G(R10); G(R11); G(R12); G(R13); G(R14); G(R15);
	G(RDI); G(RSI); G(RBP); G(RBX); G(RDX); G(RAX); G(RCX); G(RSP);
	G(RIP); G(EFL); G(CSGSFS); G(ERR); G(TRAPNO); G(OLDMASK); G(CR2);
	printf("frame=");
	for (unsigned long i = 0; i < saved_len; i++)
		printf("%02x", saved[i]);
	printf("\n");
	return 0;
}
