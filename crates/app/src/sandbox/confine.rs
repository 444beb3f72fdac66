//! The worker confines itself before it reads its first byte, in three layers, each of which
//! would stop a compromised codec on its own from something the next does not cover:
//!
//! - **Resource limits** (Unix): address space [`ADDRESS_SPACE`] (the largest file a home takes,
//!   2 GiB, plus the largest frame, 1 GiB, plus working space), CPU time [`CPU_SECONDS`], no
//!   core dumps, no file writes, a handful of descriptors.
//! - **Landlock** (Linux ≥ 5.13, best effort): a ruleset that handles every filesystem right the
//!   kernel knows, and TCP bind/connect and IPC scopes where it knows them, and grants none.
//! - **seccomp-bpf** (Linux x86-64 and aarch64): an allow-list of the system calls decoding
//!   needs — anonymous memory, threads, time, reading stdin and writing stdout and stderr (by
//!   descriptor number: any other descriptor the worker might have inherited is useless to it).
//!   Everything else (open, socket, execve, fork, ptrace, …) fails with `EPERM`. `clone` is
//!   allowed only for threads; `clone3` fails with `ENOSYS` so that the C library falls back to
//!   `clone`.
//!
//! What was achieved is reported in the worker's hello line; the parent logs it.

pub(super) struct Applied {
    pub seccomp: bool,
    pub landlock: String,
    pub rlimits: bool,
}

/// Address space a worker may map.
pub(super) const ADDRESS_SPACE: u64 = 4 << 30;
/// CPU seconds a worker may use in its life: a backstop only. The limit that matters is the
/// wall-clock budget the parent gives each file; a per-life CPU limit would blame a file for
/// the CPU that the files before it used.
pub(super) const CPU_SECONDS: u64 = 3600;

pub(super) fn apply() -> Applied {
    die_with_parent();
    let rlimits = rlimits();
    let landlock = landlock();
    let seccomp = seccomp();
    Applied {
        seccomp,
        landlock,
        rlimits,
    }
}

/// A worker outlives no parent: if the app dies, its worker is killed with it.
#[cfg(target_os = "linux")]
fn die_with_parent() {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent() {}

#[cfg(unix)]
fn rlimits() -> bool {
    use nix::sys::resource::{setrlimit, Resource};
    [
        setrlimit(Resource::RLIMIT_AS, ADDRESS_SPACE, ADDRESS_SPACE),
        // SIGXCPU at the soft limit; SIGKILL at the hard one if that is ignored.
        setrlimit(Resource::RLIMIT_CPU, CPU_SECONDS, CPU_SECONDS + 5),
        setrlimit(Resource::RLIMIT_CORE, 0, 0),
        setrlimit(Resource::RLIMIT_FSIZE, 0, 0),
        setrlimit(Resource::RLIMIT_NOFILE, 16, 16),
    ]
    .iter()
    .all(Result::is_ok)
}

#[cfg(not(unix))]
fn rlimits() -> bool {
    false
}

#[cfg(target_os = "linux")]
fn landlock() -> String {
    use landlock::{Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetStatus, Scope, ABI};
    let abi = ABI::V6;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        // No rule is added: every handled right is denied.
        .and_then(|r| r.restrict_self());
    match status {
        Ok(s) => match s.ruleset {
            RulesetStatus::FullyEnforced => "fully_enforced".into(),
            RulesetStatus::PartiallyEnforced => "partially_enforced".into(),
            RulesetStatus::NotEnforced => "not_enforced".into(),
        },
        Err(_) => "failed".into(),
    }
}

#[cfg(not(target_os = "linux"))]
fn landlock() -> String {
    "unavailable".into()
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn seccomp() -> bool {
    match filters() {
        Ok((allow_list, no_clone3)) => seccompiler::apply_filter(&allow_list)
            .and_then(|()| seccompiler::apply_filter(&no_clone3))
            .is_ok(),
        Err(_) => false,
    }
}

/// The allow-list, and the filter that makes `clone3` fail with `ENOSYS` (installed last, so
/// that it decides for `clone3`: among equal actions the newest filter wins).
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn filters() -> Result<(seccompiler::BpfProgram, seccompiler::BpfProgram), seccompiler::BackendError>
{
    use std::collections::BTreeMap;

    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition,
        SeccompFilter, SeccompRule,
    };

    #[cfg(target_arch = "x86_64")]
    let arch = seccompiler::TargetArch::x86_64;
    #[cfg(target_arch = "aarch64")]
    let arch = seccompiler::TargetArch::aarch64;

    // (c_long is i64 on both architectures this is built for.)
    let mut allowed: Vec<i64> = vec![
        libc::SYS_close,
        libc::SYS_lseek,
        libc::SYS_fstat,
        libc::SYS_ppoll,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_madvise,
        libc::SYS_mincore,
        libc::SYS_brk,
        libc::SYS_futex,
        libc::SYS_membarrier,
        libc::SYS_set_robust_list,
        libc::SYS_set_tid_address,
        libc::SYS_rseq,
        libc::SYS_sched_yield,
        libc::SYS_sched_getaffinity,
        libc::SYS_gettid,
        libc::SYS_getpid,
        libc::SYS_rt_sigreturn,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigaction,
        libc::SYS_sigaltstack,
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_gettimeofday,
        libc::SYS_nanosleep,
        libc::SYS_clock_nanosleep,
        libc::SYS_getrandom,
        // Only ever narrows what is allowed; needed to install the second filter.
        libc::SYS_seccomp,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    #[cfg(target_arch = "x86_64")]
    allowed.push(libc::SYS_poll);
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        allowed.into_iter().map(|n| (n, Vec::new())).collect();

    // One rule: all of `conditions` (argument, compared how, with what) hold.
    let all =
        |conditions: &[(u8, Len, Op, u64)]| -> Result<SeccompRule, seccompiler::BackendError> {
            let conditions = conditions
                .iter()
                .map(|(arg, len, op, value)| {
                    SeccompCondition::new(*arg, len.clone(), op.clone(), *value)
                })
                .collect::<Result<Vec<_>, _>>()?;
            SeccompRule::new(conditions)
        };
    let arg0_is = |value: u64| all(&[(0, Len::Dword, Op::Eq, value)]);
    let thread = libc::CLONE_THREAD as u64;
    let anonymous = libc::MAP_ANONYMOUS as u64;
    let exec = libc::PROT_EXEC as u64;
    let pid = u64::from(std::process::id());
    let conditional = [
        // Reading stdin, writing stdout and stderr: a descriptor the worker inherited by
        // mistake (one without close-on-exec) is of no use to it.
        (libc::SYS_read, vec![arg0_is(0)?]),
        (libc::SYS_readv, vec![arg0_is(0)?]),
        (libc::SYS_write, vec![arg0_is(1)?, arg0_is(2)?]),
        (libc::SYS_writev, vec![arg0_is(1)?, arg0_is(2)?]),
        // Memory, never a file's pages (a shared mapping of an inherited descriptor would write
        // to that file), and never executable: injected code cannot be made to run.
        (
            libc::SYS_mmap,
            vec![all(&[
                (3, Len::Qword, Op::MaskedEq(anonymous), anonymous),
                (2, Len::Qword, Op::MaskedEq(exec), 0),
            ])?],
        ),
        (
            libc::SYS_mprotect,
            vec![all(&[(2, Len::Qword, Op::MaskedEq(exec), 0)])?],
        ),
        // Signals to its own threads only (abort), never to another process of the user.
        (libc::SYS_tgkill, vec![arg0_is(pid)?]),
        // Naming a thread or a mapping, and the no-new-privileges flag the second filter needs.
        (
            libc::SYS_prctl,
            vec![
                arg0_is(libc::PR_SET_NAME as u64)?,
                arg0_is(libc::PR_GET_NAME as u64)?,
                arg0_is(libc::PR_SET_NO_NEW_PRIVS as u64)?,
                arg0_is(libc::PR_SET_VMA as u64)?,
            ],
        ),
        // Threads only: a new process (fork, vfork, posix_spawn) lacks CLONE_THREAD.
        (
            libc::SYS_clone,
            vec![all(&[(0, Len::Qword, Op::MaskedEq(thread), thread)])?],
        ),
        // Reading its own limits, never setting one, nor reading another process's.
        (
            libc::SYS_prlimit64,
            vec![all(&[
                (0, Len::Dword, Op::Eq, 0),
                (2, Len::Qword, Op::Eq, 0),
            ])?],
        ),
    ];
    rules.extend(conditional);
    let allow_list = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .and_then(BpfProgram::try_from)?;
    let no_clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .and_then(BpfProgram::try_from)?;
    Ok((allow_list, no_clone3))
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn seccomp() -> bool {
    false
}
