//! The platform against real stubs: syscalls trap, faults report, host calls inject.

use std::sync::Arc;

use vproc::layout::TRAMPOLINE_CODE;
use vproc::trampoline::SYSCALL_OFFSET;
use vproc::{AddressSpace, HostCall, Physmem, Regs, Stop, Zygote, PAGE_SIZE};

const CODE_AT: u64 = 0x40_0000;

/// Boots a stub with one RX page of `code` at CODE_AT and registers pointing at it.
fn stub_with_code(code: &[u8]) -> (Arc<Physmem>, vproc::StubThread, Regs, Zygote) {
    let pm = Arc::new(Physmem::new(256 * PAGE_SIZE).unwrap());
    let zygote = Zygote::start(&pm).unwrap();
    let (space, mut t) = AddressSpace::spawn(&zygote, &pm).unwrap();
    std::mem::forget(space);
    let frame = pm.alloc(1).unwrap().start;
    pm.write_frame(frame, 0, code);
    let prot = libc::PROT_READ | libc::PROT_EXEC;
    t.inject(&[HostCall::map(
        &pm,
        CODE_AT,
        PAGE_SIZE,
        prot,
        frame * PAGE_SIZE,
    )])
    .unwrap();
    let template = t.get_regs().unwrap();
    let regs = Regs::initial(CODE_AT, 0, &template);
    (pm, t, regs, zygote)
}

#[test]
fn guest_syscall_traps_and_is_emulated() {
    // mov eax, 39 (getpid); syscall; mov rdi, rax; mov eax, 60; syscall
    let code = [
        0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x48, 0x89, 0xc7, 0xb8, 60, 0, 0, 0, 0x0f, 0x05,
    ];
    let (_pm, mut t, mut regs, _z) = stub_with_code(&code);
    assert_eq!(t.run(&mut regs).unwrap(), Stop::Syscall);
    assert_eq!(regs.syscall().0, 39);
    regs.0.rax = 4242; // the emulated result
    assert_eq!(t.run(&mut regs).unwrap(), Stop::Syscall);
    let (nr, args) = regs.syscall();
    assert_eq!((nr, args[0]), (60, 4242), "exit got the emulated pid");
    t.kill();
}

#[test]
fn unmapped_access_is_a_fault_with_address() {
    // mov rax, [0x1234]
    let code = [0x48, 0x8b, 0x04, 0x25, 0x34, 0x12, 0, 0];
    let (_pm, mut t, mut regs, _z) = stub_with_code(&code);
    match t.run(&mut regs).unwrap() {
        Stop::Fault(f) => {
            assert_eq!(f.signo, libc::SIGSEGV);
            assert_eq!(f.addr, 0x1234);
        }
        other => panic!("expected a fault, got {other:?}"),
    }
}

#[test]
fn jumping_into_the_trampoline_gains_nothing() {
    // A hostile guest jumps to the trampoline's syscall instruction with kill(1, 9) in
    // its registers: under SYSEMU that is just another emulated syscall.
    let mut code = vec![0x48, 0xb8]; // mov rax, imm64
    code.extend_from_slice(&(TRAMPOLINE_CODE + SYSCALL_OFFSET).to_le_bytes());
    code.extend_from_slice(&[0xff, 0xe0]); // jmp rax
    let (_pm, mut t, mut regs, _z) = stub_with_code(&code);
    regs.0.rax = 62;
    regs.0.rdi = 1;
    regs.0.rsi = 9;
    // The jump itself is the guest's; it reaches the trampoline's syscall.
    let stop = t.run(&mut regs).unwrap();
    assert_eq!(stop, Stop::Syscall);
    assert_eq!(regs.0.rip, TRAMPOLINE_CODE + SYSCALL_OFFSET + 2);
}

#[test]
fn failed_host_call_reports_errno() {
    let (_pm, mut t, _regs, _z) = stub_with_code(&[0xcc]);
    let err = t
        .inject(&[HostCall::protect(0x1000_0000, PAGE_SIZE, libc::PROT_READ)])
        .unwrap_err();
    assert!(
        matches!(
            err,
            vproc::VprocError::HostCall {
                errno: libc::ENOMEM,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn fpu_and_xsave_state_round_trip() {
    let (_pm, t, _regs, _z) = stub_with_code(&[0xcc]);
    let mut fp = t.get_fpregs().unwrap();
    fp.0.xmm_space[0] = 0x1234_5678;
    t.set_fpregs(&fp).unwrap();
    assert_eq!(t.get_fpregs().unwrap().0.xmm_space[0], 0x1234_5678);
    let xs = t.get_xstate().unwrap();
    assert!(xs.0.len() >= 576, "legacy area + XSAVE header at least");
    assert_eq!(
        &xs.0[160..164],
        &0x1234_5678u32.to_ne_bytes(),
        "xmm0 in the XSAVE area"
    );
    t.set_xstate(&xs).unwrap();
}

#[test]
fn a_second_thread_is_adopted_by_another_tracer_and_exits_alone() {
    // mov eax, 186 (gettid); syscall; jmp $-7 (back to the mov)
    let code = [0xb8, 186, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7];
    let (_pm, mut t, mut regs, _z) = stub_with_code(&code);
    let tid = t.spawn_thread().unwrap();
    assert_ne!(tid, t.tid());
    let space = t.space().clone();
    let start = regs;
    let other = std::thread::spawn(move || {
        let mut u = vproc::StubThread::adopt(&space, tid).unwrap();
        let mut r = start;
        assert_eq!(u.run(&mut r).unwrap(), Stop::Syscall);
        assert_eq!(r.syscall().0, 186);
        u.exit_thread().unwrap();
    });
    other.join().unwrap();
    // The first thread still runs guest code after its sibling is gone.
    assert_eq!(t.run(&mut regs).unwrap(), Stop::Syscall);
    assert_eq!(regs.syscall().0, 186);
    t.kill();
}
