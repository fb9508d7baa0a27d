//! System call dispatch: one file per family, one function per call.

mod cred;
mod event;
mod fs;
mod futex;
mod info;
mod itimer;
mod lock;
mod mm;
mod net;
mod netdev;
mod poll;
mod prctl;
mod process;
mod sched;
mod signal;
mod time;
mod tty;
mod wait;

use nix::errno::Errno;

use crate::task::Task;

pub type SysResult = Result<u64, Errno>;

/// A process's signal timers stop for good (it exits).
pub use itimer::cancel_all as cancel_timers;
/// execve deletes the POSIX timers.
pub use itimer::delete_posix_timers;
pub use itimer::resume as resume_timers;

/// Runs guest system call `nr`. Unknown numbers are ENOSYS (logged once with -v).
// libc names its syscall numbers SYS_read etc.; matching on them reads like the ABI.
#[allow(non_upper_case_globals)]
pub fn dispatch(t: &mut Task, nr: u64, a: [u64; 6]) -> SysResult {
    use libc::*;
    let Ok(n) = i64::try_from(nr) else {
        return Err(Errno::ENOSYS);
    };
    match n {
        SYS_read => fs::read(t, a),
        SYS_write => fs::write(t, a),
        SYS_readv => fs::readv(t, a),
        SYS_writev => fs::writev(t, a),
        SYS_pread64 => fs::pread64(t, a),
        SYS_pwrite64 => fs::pwrite64(t, a),
        SYS_open => fs::open(t, a),
        SYS_openat => fs::openat(t, a),
        SYS_creat => fs::creat(t, a),
        SYS_close => fs::close(t, a),
        SYS_lseek => fs::lseek(t, a),
        SYS_stat => fs::stat(t, a),
        SYS_lstat => fs::lstat(t, a),
        SYS_fstat => fs::fstat(t, a),
        SYS_newfstatat => fs::newfstatat(t, a),
        SYS_statx => fs::statx(t, a),
        SYS_getdents64 => fs::getdents64(t, a),
        SYS_ioctl => fs::ioctl(t, a),
        SYS_readlink => fs::readlink(t, a),
        SYS_readlinkat => fs::readlinkat(t, a),
        SYS_access => fs::access(t, a),
        SYS_faccessat => fs::faccessat(t, a),
        SYS_faccessat2 => fs::faccessat2(t, a),
        SYS_getcwd => fs::getcwd(t, a),
        SYS_chdir => fs::chdir(t, a),
        SYS_fchdir => fs::fchdir(t, a),
        SYS_fcntl => fs::fcntl(t, a),
        SYS_flock => lock::flock(t, a),
        SYS_sendfile => fs::sendfile(t, a),
        SYS_copy_file_range => fs::copy_file_range(t, a),
        SYS_dup => fs::dup(t, a),
        SYS_dup2 => fs::dup2(t, a),
        SYS_dup3 => fs::dup3(t, a),
        SYS_mkdir => fs::mkdir(t, a),
        SYS_mkdirat => fs::mkdirat(t, a),
        SYS_mknod => fs::mknod(t, a),
        SYS_mknodat => fs::mknodat(t, a),
        SYS_unlink => fs::unlink(t, a),
        SYS_rmdir => fs::rmdir(t, a),
        SYS_unlinkat => fs::unlinkat(t, a),
        SYS_rename => fs::rename(t, a),
        SYS_renameat => fs::renameat(t, a),
        SYS_renameat2 => fs::renameat2(t, a),
        SYS_symlink => fs::symlink(t, a),
        SYS_symlinkat => fs::symlinkat(t, a),
        SYS_link => fs::link(t, a),
        SYS_linkat => fs::linkat(t, a),
        SYS_chmod => fs::chmod(t, a),
        SYS_fchmod => fs::fchmod(t, a),
        SYS_fchmodat => fs::fchmodat(t, a),
        SYS_chown | SYS_lchown => fs::chown(t, a, n == SYS_chown),
        SYS_fchown => fs::fchown(t, a),
        SYS_fchownat => fs::fchownat(t, a),
        SYS_umask => fs::umask(t, a),
        SYS_truncate => fs::truncate(t, a),
        SYS_ftruncate => fs::ftruncate(t, a),
        SYS_utimensat => fs::utimensat(t, a),
        SYS_statfs => fs::statfs(t, a),
        SYS_fstatfs => fs::fstatfs(t, a),
        SYS_fsync | SYS_fdatasync => fs::fsync(t, a),
        SYS_sync => Ok(0),
        SYS_poll => poll::poll(t, a),
        SYS_ppoll => poll::ppoll(t, a),
        SYS_select => poll::select(t, a),
        SYS_pselect6 => poll::pselect6(t, a),
        SYS_eventfd => event::eventfd(t, a),
        SYS_eventfd2 => event::eventfd2(t, a),
        SYS_timerfd_create => event::timerfd_create(t, a),
        SYS_timerfd_settime => event::timerfd_settime(t, a),
        SYS_timerfd_gettime => event::timerfd_gettime(t, a),
        SYS_signalfd => event::signalfd(t, a),
        SYS_signalfd4 => event::signalfd4(t, a),
        SYS_epoll_create => event::epoll_create(t, a),
        SYS_epoll_create1 => event::epoll_create1(t, a),
        SYS_epoll_ctl => event::epoll_ctl(t, a),
        SYS_epoll_wait => event::epoll_wait(t, a),
        SYS_epoll_pwait => event::epoll_pwait(t, a),
        SYS_epoll_pwait2 => event::epoll_pwait2(t, a),
        SYS_brk => mm::brk(t, a),
        SYS_mmap => mm::mmap(t, a),
        SYS_munmap => mm::munmap(t, a),
        SYS_mprotect => mm::mprotect(t, a),
        SYS_mremap => mm::mremap(t, a),
        SYS_madvise => mm::madvise(t, a),
        SYS_exit => process::exit(t, a),
        SYS_exit_group => process::exit_group(t, a),
        SYS_execve => process::execve(t, a),
        SYS_getpid => Ok(t.process.pid as u64),
        SYS_gettid => Ok(t.tid as u64),
        SYS_getppid => Ok(t.process.ppid() as u64),
        SYS_getpgrp => Ok(t.process.pgid() as u64),
        SYS_getpgid => process::getpgid(t, a),
        SYS_getsid => process::getsid(t, a),
        SYS_setpgid => process::setpgid(t, a),
        SYS_setsid => process::setsid(t, a),
        SYS_clone => process::clone(t, a),
        SYS_clone3 => process::clone3(t, a),
        SYS_fork => process::fork(t, a),
        SYS_vfork => process::vfork(t, a),
        SYS_wait4 => wait::wait4(t, a),
        SYS_waitid => wait::waitid(t, a),
        SYS_kill => signal::kill(t, a),
        SYS_tkill => signal::tkill(t, a),
        SYS_tgkill => signal::tgkill(t, a),
        SYS_rt_sigreturn => signal::rt_sigreturn(t, a),
        SYS_rt_sigpending => signal::rt_sigpending(t, a),
        SYS_rt_sigsuspend => signal::rt_sigsuspend(t, a),
        SYS_pause => signal::pause(t, a),
        SYS_rt_sigtimedwait => signal::rt_sigtimedwait(t, a),
        SYS_rt_sigqueueinfo => signal::rt_sigqueueinfo(t, a),
        SYS_rt_tgsigqueueinfo => signal::rt_tgsigqueueinfo(t, a),
        SYS_restart_syscall => signal::restart_syscall(t, a),
        SYS_pipe => fs::pipe2(t, [a[0], 0, 0, 0, 0, 0]),
        SYS_pipe2 => fs::pipe2(t, a),
        SYS_getuid => Ok(u64::from(t.process.cred().uid)),
        SYS_geteuid => Ok(u64::from(t.process.cred().euid)),
        SYS_getgid => Ok(u64::from(t.process.cred().gid)),
        SYS_getegid => Ok(u64::from(t.process.cred().egid)),
        SYS_getgroups => Ok(0),
        SYS_setgroups => cred::setgroups(t, a),
        SYS_setuid => cred::setuid(t, a),
        SYS_setgid => cred::setgid(t, a),
        SYS_setreuid => cred::setreuid(t, a),
        SYS_setregid => cred::setregid(t, a),
        SYS_setresuid => cred::setresuid(t, a),
        SYS_setresgid => cred::setresgid(t, a),
        SYS_getresuid => cred::getresuid(t, a),
        SYS_getresgid => cred::getresgid(t, a),
        SYS_futex => futex::futex(t, a),
        SYS_set_tid_address => process::set_tid_address(t, a),
        SYS_set_robust_list => process::set_robust_list(t, a),
        SYS_get_robust_list => process::get_robust_list(t, a),
        SYS_arch_prctl => process::arch_prctl(t, a),
        SYS_prlimit64 => process::prlimit64(t, a),
        SYS_getrlimit => process::getrlimit(t, a),
        SYS_setrlimit => process::setrlimit(t, a),
        SYS_sched_yield => Ok(0),
        SYS_sched_getaffinity => sched::sched_getaffinity(t, a),
        SYS_sched_setaffinity => sched::sched_setaffinity(t, a),
        SYS_sched_getscheduler => sched::sched_getscheduler(t, a),
        SYS_sched_setscheduler => sched::sched_setscheduler(t, a),
        SYS_sched_getparam => sched::sched_getparam(t, a),
        SYS_sched_setparam => sched::sched_setparam(t, a),
        SYS_sched_get_priority_max => sched::sched_get_priority_max(t, a),
        SYS_sched_get_priority_min => sched::sched_get_priority_min(t, a),
        SYS_sched_rr_get_interval => sched::sched_rr_get_interval(t, a),
        SYS_getcpu => sched::getcpu(t, a),
        SYS_membarrier => sched::membarrier(t, a),
        SYS_prctl => prctl::prctl(t, a),
        SYS_uname => info::uname(t, a),
        SYS_getrandom => info::getrandom(t, a),
        SYS_sysinfo => info::sysinfo(t, a),
        SYS_clock_gettime => time::clock_gettime(t, a),
        SYS_clock_getres => time::clock_getres(t, a),
        SYS_gettimeofday => time::gettimeofday(t, a),
        SYS_time => time::time(t, a),
        SYS_nanosleep => time::nanosleep(t, a),
        SYS_alarm => itimer::alarm(t, a),
        SYS_times => time::times(t, a),
        SYS_getrusage => time::getrusage(t, a),
        SYS_setitimer => itimer::setitimer(t, a),
        SYS_getitimer => itimer::getitimer(t, a),
        SYS_timer_create => itimer::timer_create(t, a),
        SYS_timer_settime => itimer::timer_settime(t, a),
        SYS_timer_gettime => itimer::timer_gettime(t, a),
        SYS_timer_getoverrun => itimer::timer_getoverrun(t, a),
        SYS_timer_delete => itimer::timer_delete(t, a),
        SYS_clock_nanosleep => time::clock_nanosleep(t, a),
        SYS_socket => net::socket(t, a),
        SYS_socketpair => net::socketpair(t, a),
        SYS_bind => net::bind(t, a),
        SYS_listen => net::listen(t, a),
        SYS_accept => net::accept(t, a),
        SYS_accept4 => net::accept4(t, a),
        SYS_connect => net::connect(t, a),
        SYS_getsockname => net::getsockname(t, a),
        SYS_getpeername => net::getpeername(t, a),
        SYS_sendto => net::sendto(t, a),
        SYS_recvfrom => net::recvfrom(t, a),
        SYS_sendmsg => net::sendmsg(t, a),
        SYS_recvmsg => net::recvmsg(t, a),
        SYS_sendmmsg => net::sendmmsg(t, a),
        SYS_recvmmsg => net::recvmmsg(t, a),
        SYS_shutdown => net::shutdown(t, a),
        SYS_setsockopt => net::setsockopt(t, a),
        SYS_getsockopt => net::getsockopt(t, a),
        SYS_rt_sigaction => signal::rt_sigaction(t, a),
        SYS_rt_sigprocmask => signal::rt_sigprocmask(t, a),
        SYS_sigaltstack => signal::sigaltstack(t, a),
        _ => {
            t.kernel.log_enosys(nr);
            Err(Errno::ENOSYS)
        }
    }
}

/// Guest arguments as the types the calls take.
pub fn fd_arg(a: u64) -> i32 {
    a as i32
}
