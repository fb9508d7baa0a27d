/* glibc's view of the same frame: ucontext_t (larger than the kernel's, but
 * sharing its first 304 bytes), the gregs[] indices and siginfo_t. */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ucontext.h>

#define P(n, e) printf("%s %lld\n", n, (long long)(e))
#define GREG(r) P("uc.mcontext." #r, offsetof(ucontext_t, uc_mcontext) + (r) * 8)

int main(void)
{
	P("uc.flags", offsetof(ucontext_t, uc_flags));
	P("uc.link", offsetof(ucontext_t, uc_link));
	P("uc.stack", offsetof(ucontext_t, uc_stack));
	P("uc.mcontext", offsetof(ucontext_t, uc_mcontext));
	P("uc.fpregs", offsetof(ucontext_t, uc_mcontext.fpregs));
	P("uc.sigmask", offsetof(ucontext_t, uc_sigmask));
	GREG(REG_R8); GREG(REG_R9); GREG(REG_R10); GREG(REG_R11);
	GREG(REG_R12); GREG(REG_R13); GREG(REG_R14); GREG(REG_R15);
	GREG(REG_RDI); GREG(REG_RSI); GREG(REG_RBP); GREG(REG_RBX);
	GREG(REG_RDX); GREG(REG_RAX); GREG(REG_RCX); GREG(REG_RSP);
	GREG(REG_RIP); GREG(REG_EFL); GREG(REG_CSGSFS); GREG(REG_ERR);
	GREG(REG_TRAPNO); GREG(REG_OLDMASK); GREG(REG_CR2);
	P("si.pid", offsetof(siginfo_t, si_pid));
	P("si.uid", offsetof(siginfo_t, si_uid));
	P("si.value", offsetof(siginfo_t, si_value));
	P("si.status", offsetof(siginfo_t, si_status));
	P("si.utime", offsetof(siginfo_t, si_utime));
	P("si.stime", offsetof(siginfo_t, si_stime));
	P("si.timerid", offsetof(siginfo_t, si_timerid));
	P("si.overrun", offsetof(siginfo_t, si_overrun));
	P("si.addr", offsetof(siginfo_t, si_addr));
	P("si.band", offsetof(siginfo_t, si_band));
	P("si.fd", offsetof(siginfo_t, si_fd));
	P("si.call_addr", offsetof(siginfo_t, si_call_addr));
	P("si.syscall", offsetof(siginfo_t, si_syscall));
	P("si.arch", offsetof(siginfo_t, si_arch));
	P("si.size", sizeof(siginfo_t));
	return 0;
}
