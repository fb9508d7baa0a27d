/* Prints offsets, sizes and constants of the kernel's signal-frame structures
 * from the Linux uapi headers only (no libc headers: their sigset_t, stack_t
 * and siginfo_t would clash). Output: "name value" per line. */
#include <stddef.h>
#include <stdio.h>
#include <asm/signal.h>
#include <asm/sigcontext.h>
#include <asm/ucontext.h>
#include <asm/siginfo.h>
#include <linux/signal.h>

/* arch/x86/include/asm/sigframe.h (kernel-private). */
struct rt_sigframe {
	char *pretcode;
	struct ucontext uc;
	siginfo_t info;
};

#define P(n, e) printf("%s %lld\n", n, (long long)(e))
#define OFF(n, t, f) P(n, offsetof(t, f))

int main(void)
{
	OFF("frame.pretcode", struct rt_sigframe, pretcode);
	OFF("frame.uc", struct rt_sigframe, uc);
	OFF("frame.info", struct rt_sigframe, info);
	P("frame.size", sizeof(struct rt_sigframe));

	OFF("uc.flags", struct ucontext, uc_flags);
	OFF("uc.link", struct ucontext, uc_link);
	OFF("uc.stack", struct ucontext, uc_stack);
	OFF("uc.mcontext", struct ucontext, uc_mcontext);
	OFF("uc.sigmask", struct ucontext, uc_sigmask);
	P("uc.size", sizeof(struct ucontext));
	P("sigset.size", sizeof(sigset_t));

	OFF("stack.sp", stack_t, ss_sp);
	OFF("stack.flags", stack_t, ss_flags);
	OFF("stack.size", stack_t, ss_size);
	P("stack.len", sizeof(stack_t));

	OFF("sc.r8", struct sigcontext, r8);
	OFF("sc.r9", struct sigcontext, r9);
	OFF("sc.r10", struct sigcontext, r10);
	OFF("sc.r11", struct sigcontext, r11);
	OFF("sc.r12", struct sigcontext, r12);
	OFF("sc.r13", struct sigcontext, r13);
	OFF("sc.r14", struct sigcontext, r14);
	OFF("sc.r15", struct sigcontext, r15);
	OFF("sc.rdi", struct sigcontext, rdi);
	OFF("sc.rsi", struct sigcontext, rsi);
	OFF("sc.rbp", struct sigcontext, rbp);
	OFF("sc.rbx", struct sigcontext, rbx);
	OFF("sc.rdx", struct sigcontext, rdx);
	OFF("sc.rax", struct sigcontext, rax);
	OFF("sc.rcx", struct sigcontext, rcx);
	OFF("sc.rsp", struct sigcontext, rsp);
	OFF("sc.rip", struct sigcontext, rip);
	OFF("sc.eflags", struct sigcontext, eflags);
	OFF("sc.cs", struct sigcontext, cs);
	OFF("sc.gs", struct sigcontext, gs);
	OFF("sc.fs", struct sigcontext, fs);
	OFF("sc.ss", struct sigcontext, ss);
	OFF("sc.err", struct sigcontext, err);
	OFF("sc.trapno", struct sigcontext, trapno);
	OFF("sc.oldmask", struct sigcontext, oldmask);
	OFF("sc.cr2", struct sigcontext, cr2);
	OFF("sc.fpstate", struct sigcontext, fpstate);
	OFF("sc.reserved1", struct sigcontext, reserved1);
	P("sc.size", sizeof(struct sigcontext));

	OFF("fp.mxcsr", struct _fpstate_64, mxcsr);
	OFF("fp.mxcsr_mask", struct _fpstate_64, mxcsr_mask);
	OFF("fp.sw_reserved", struct _fpstate_64, sw_reserved);
	P("fp.size", sizeof(struct _fpstate_64));
	OFF("xs.header", struct _xstate, xstate_hdr);
	P("xs.header_size", sizeof(struct _header));
	OFF("sw.magic1", struct _fpx_sw_bytes, magic1);
	OFF("sw.extended_size", struct _fpx_sw_bytes, extended_size);
	OFF("sw.xfeatures", struct _fpx_sw_bytes, xfeatures);
	OFF("sw.xstate_size", struct _fpx_sw_bytes, xstate_size);
	P("sw.size", sizeof(struct _fpx_sw_bytes));

	OFF("si.signo", siginfo_t, si_signo);
	OFF("si.errno", siginfo_t, si_errno);
	OFF("si.code", siginfo_t, si_code);
	OFF("si.pid", siginfo_t, si_pid);
	OFF("si.uid", siginfo_t, si_uid);
	OFF("si.value", siginfo_t, si_value);
	OFF("si.status", siginfo_t, si_status);
	OFF("si.utime", siginfo_t, si_utime);
	OFF("si.stime", siginfo_t, si_stime);
	OFF("si.timerid", siginfo_t, si_tid);
	OFF("si.overrun", siginfo_t, si_overrun);
	OFF("si.addr", siginfo_t, si_addr);
	OFF("si.band", siginfo_t, si_band);
	OFF("si.fd", siginfo_t, si_fd);
	OFF("si.call_addr", siginfo_t, si_call_addr);
	OFF("si.syscall", siginfo_t, si_syscall);
	OFF("si.arch", siginfo_t, si_arch);
	P("si.size", sizeof(siginfo_t));

	P("FP_XSTATE_MAGIC1", FP_XSTATE_MAGIC1);
	P("FP_XSTATE_MAGIC2", FP_XSTATE_MAGIC2);
	P("UC_FP_XSTATE", UC_FP_XSTATE);
	P("UC_SIGCONTEXT_SS", UC_SIGCONTEXT_SS);
	P("UC_STRICT_RESTORE_SS", UC_STRICT_RESTORE_SS);
	P("SA_SIGINFO", SA_SIGINFO);
	P("SA_RESTORER", SA_RESTORER);
	P("SA_ONSTACK", SA_ONSTACK);
	P("SA_RESTART", SA_RESTART);
	P("SA_NODEFER", SA_NODEFER);
	P("SA_RESETHAND", (unsigned int)SA_RESETHAND);
	P("SS_ONSTACK", SS_ONSTACK);
	P("SS_DISABLE", SS_DISABLE);
	P("SS_AUTODISARM", (int)SS_AUTODISARM);
	P("MINSIGSTKSZ", MINSIGSTKSZ);
	return 0;
}
