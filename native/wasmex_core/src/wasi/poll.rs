//! `poll_oneoff`, answered here in full: it never blocks a thread.
//!
//! wasi-common's sleeps on the OS thread, which on a BEAM scheduler would stall every
//! process behind it, and it refuses in-memory stdio ("file is not pollable", `EINVAL`),
//! which is all the stdio a store has. Here:
//!
//! - descriptors are always ready (stdio is in memory, and the only files a guest can open
//!   are regular files and directories, see [`super::dir`]): a poll with any descriptor
//!   subscription returns at once with those events, plus the clocks already due. A read
//!   event reports the bytes left to read (end of input is "hangup"); a write event, the
//!   bytes one write may take. Asking about a file costs two system calls: a poll on
//!   many files is host work ([`super::work`]);
//! - a poll on clocks only (`sleep`, `nanosleep`, `usleep`) suspends the guest like an
//!   Elixir import does ([`Sleep`]): the host waits without a thread (`receive after`),
//!   then resumes the call and the events are written. In a deterministic run the wait
//!   only moves the virtual clock, at once.

use super::fds::{fdstat, Fault};
use super::guest::{self, bytes, errno, read_u32, read_u64, write_u32, SUCCESS};
use super::io::{Write, MAX_BYTES_PER_CALL};
use super::pipe::Stdio;
use super::work::{self, Done, Outcome, Work};
use super::{Output, WasiState};
use crate::imports::{HostCallMarker, Pending};
use crate::store::Host;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmi::{Caller, Linker, Memory, Val};
use wasmi_wasi::wasi_common::snapshots::preview_1::types::{Errno, Fd, Filetype};
use wasmi_wasi::wasi_common::snapshots::preview_1::wasi_snapshot_preview1::WasiSnapshotPreview1;

const SUBSCRIPTION_SIZE: u32 = 48;
const EVENT_SIZE: u32 = 32;
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const SUBCLOCKFLAGS_ABSTIME: u16 = 1;
const EVENTRWFLAGS_HANGUP: u16 = 1;

/// The most subscriptions one poll takes (`EINVAL` beyond): far more than the descriptors
/// a store may hold, and few enough that one poll stays a short call.
const MAX_SUBSCRIPTIONS: u32 = 4096;

/// Adds `poll_oneoff` to `linker`.
///
/// # Errors
///
/// When the linker refuses the definition.
pub(super) fn add_to_linker(linker: &mut Linker<Host>) -> Result<(), wasmi::Error> {
    linker.func_wrap(super::MODULE, "poll_oneoff", poll_oneoff)?;
    Ok(())
}

/// A guest suspended by a WASI call, and what its call returns once the host has done its
/// part: a sleep is over, or the host took a full stream's contents.
#[derive(Debug, Clone)]
pub struct Sleep {
    /// How long the host waits before resuming the guest.
    pub duration: Duration,
    then: Then,
}

#[derive(Debug, Clone)]
enum Then {
    /// The poll's clock events fire.
    Events(Events),
    /// The write goes on.
    Write(Box<Write>),
}

impl Sleep {
    /// The guest waits for its stream to be taken, then `write` completes.
    pub(super) fn write(write: Write) -> Self {
        Self {
            duration: Duration::ZERO,
            then: Then::Write(Box::new(write)),
        }
    }

    /// Ends the suspension: writes the poll's events or completes the write; returns the
    /// results the suspended WASI call resumes with (its errno).
    pub(crate) fn finish(self, store: &mut wasmi::Store<Host>) -> [Val; 1] {
        let errno = match self.then {
            Then::Events(events) => events.write(events.memory.data_mut(store)),
            Then::Write(mut write) => {
                let (data, host) = write.memory.data_and_store_mut(store);
                match write.run(data, host) {
                    Ok(Some(result)) => result,
                    // The host resumed without taking the stream's contents.
                    Ok(None) => errno(Errno::Again),
                    Err(_) => errno(Errno::Io),
                }
            }
        };
        [Val::I32(errno)]
    }
}

/// Events to write into guest memory, and where.
#[derive(Debug, Clone)]
struct Events {
    list: Vec<Event>,
    /// Where the events go, and where their count goes.
    at: u32,
    count_at: u32,
    memory: Memory,
}

#[derive(Debug, Clone, Copy)]
struct Event {
    userdata: u64,
    kind: u8,
    nbytes: u64,
    flags: u16,
}

impl Events {
    /// Writes the events and their count; returns the errno for the guest.
    fn write(&self, data: &mut [u8]) -> i32 {
        let len = self.list.len() * EVENT_SIZE as usize;
        let Ok(target) = guest::bytes_mut(data, self.at, len) else {
            return errno(Errno::Fault);
        };
        for (slot, event) in target.chunks_exact_mut(EVENT_SIZE as usize).zip(&self.list) {
            slot.fill(0);
            slot[0..8].copy_from_slice(&event.userdata.to_le_bytes());
            slot[10] = event.kind;
            slot[16..24].copy_from_slice(&event.nbytes.to_le_bytes());
            slot[24..26].copy_from_slice(&event.flags.to_le_bytes());
        }
        write_u32(data, self.count_at, self.list.len() as u32)
            .err()
            .unwrap_or(SUCCESS)
    }
}

/// A subscription.
#[derive(Debug, Clone, Copy)]
enum Subscription {
    Clock { userdata: u64, wait: Duration },
    Fd { userdata: u64, kind: u8, fd: u32 },
}

/// The guest's clocks now: since the Unix epoch, and since the WASI context was made.
struct Now {
    realtime: Duration,
    monotonic: Option<Duration>,
}

/// `poll_oneoff(in, out, nsubscriptions, nevents_out) -> errno`.
fn poll_oneoff(
    mut caller: Caller<'_, Host>,
    subscriptions: i32,
    events: i32,
    count: i32,
    nevents: i32,
) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    let count = count as u32;
    if count == 0 || count > MAX_SUBSCRIPTIONS {
        return Ok(errno(Errno::Inval));
    }
    let now = now(&mut caller);
    let subscriptions = match parse(memory.data(&caller), subscriptions as u32, count, &now) {
        Ok(subscriptions) => subscriptions,
        Err(code) => return Ok(code),
    };
    let mut events = Events {
        list: Vec::new(),
        at: events as u32,
        count_at: nevents as u32,
        memory,
    };
    let state = caller.data_mut().wasi_state();
    let mut files = HashSet::new();
    let mut descriptors = false;
    for subscription in &subscriptions {
        if let Subscription::Fd { fd, .. } = *subscription {
            descriptors = true;
            if state.fds.stdio(fd).is_none() {
                files.insert(fd);
            }
        }
    }
    if descriptors {
        // Every descriptor is ready: the poll returns at once.
        let small = files.len() <= INLINE_FILES;
        let ready = Ready {
            subscriptions,
            events,
        };
        return work::run(&mut caller, memory, small, ready);
    }
    // Clocks only: the earliest fires.
    let wait = subscriptions
        .iter()
        .filter_map(|subscription| match subscription {
            Subscription::Clock { wait, .. } => Some(*wait),
            Subscription::Fd { .. } => None,
        })
        .min()
        .unwrap_or_default();
    events.list = clocks_due(&subscriptions, wait);
    let state = caller.data_mut().wasi_state();
    if let Some(replay) = &mut state.replay {
        replay.sleep(wait);
    } else if !wait.is_zero() {
        caller.data_mut().pending = Some(Pending::Sleep(Sleep {
            duration: wait,
            then: Then::Events(events),
        }));
        return Err(wasmi::Error::host(HostCallMarker));
    }
    Ok(events.write(memory.data_mut(&mut caller)))
}

/// The events of the clocks due within `wait`.
fn clocks_due(subscriptions: &[Subscription], wait: Duration) -> Vec<Event> {
    subscriptions
        .iter()
        .filter_map(|subscription| match *subscription {
            Subscription::Clock {
                userdata,
                wait: due,
            } if due <= wait => Some(Event {
                userdata,
                kind: EVENTTYPE_CLOCK,
                nbytes: 0,
                flags: 0,
            }),
            _ => None,
        })
        .collect()
}

/// Distinct files (descriptors that are not stdio) one poll asks about within the calling
/// slice: each costs two system calls (its size and position, about 1.5 µs), and 4,096
/// subscriptions took 6 ms. A poll on more is host work ([`super::work`]).
const INLINE_FILES: usize = 64;

/// A poll with descriptor subscriptions: their events, and those of the clocks already
/// due.
#[derive(Debug)]
struct Ready {
    subscriptions: Vec<Subscription>,
    events: Events,
}

impl Work for Ready {
    fn run(&self, data: &mut [u8], host: &mut Host, _within_slice: bool) -> Outcome {
        let state = host.wasi_state();
        // A descriptor asked about twice is as ready the second time.
        let mut known = HashMap::new();
        let mut list = Vec::with_capacity(self.subscriptions.len());
        for subscription in &self.subscriptions {
            let Subscription::Fd { userdata, kind, fd } = *subscription else {
                continue;
            };
            let (nbytes, flags) = match known.get(&(fd, kind)) {
                Some(ready) => *ready,
                None => match readiness(state, fd, kind) {
                    Ok(ready) => *known.entry((fd, kind)).or_insert(ready),
                    Err(fault) => return fault.answer().map(|code| Some(Done::errno(code))),
                },
            };
            list.push(Event {
                userdata,
                kind,
                nbytes,
                flags,
            });
        }
        list.extend(clocks_due(&self.subscriptions, Duration::ZERO));
        let events = Events {
            list,
            ..self.events.clone()
        };
        Ok(Some(Done::errno(events.write(data))))
    }
}

/// The guest's clocks now: the virtual ones in a deterministic run.
fn now(caller: &mut Caller<'_, Host>) -> Now {
    let consumed = super::fuel::consumed(caller);
    let state = caller.data_mut().wasi_state();
    if let Some(replay) = &state.replay {
        return Now {
            realtime: replay.realtime(consumed),
            monotonic: Some(replay.elapsed(consumed)),
        };
    }
    let monotonic = state.ctx.clocks.monotonic().ok().map(|clock| {
        clock
            .abs_clock
            .now(Duration::ZERO)
            .duration_since(clock.creation_time)
    });
    Now {
        realtime: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
        monotonic,
    }
}

/// The subscriptions at `at`; an errno for a malformed request.
fn parse(data: &[u8], at: u32, count: u32, now: &Now) -> Result<Vec<Subscription>, i32> {
    let len = (count * SUBSCRIPTION_SIZE) as usize;
    let all = bytes(data, at, len)?;
    let mut subscriptions = Vec::with_capacity(count as usize);
    for sub in all.chunks_exact(SUBSCRIPTION_SIZE as usize) {
        let userdata = read_u64(sub, 0)?;
        let kind = sub[8];
        let subscription = match kind {
            EVENTTYPE_CLOCK => {
                let clock = read_u32(sub, 16)?;
                let timeout = Duration::from_nanos(read_u64(sub, 24)?);
                let flags = u16::from_le_bytes([sub[40], sub[41]]);
                let wait = match (flags & SUBCLOCKFLAGS_ABSTIME != 0, clock) {
                    (false, _) => timeout,
                    (true, CLOCK_REALTIME) => timeout.saturating_sub(now.realtime),
                    (true, CLOCK_MONOTONIC) => {
                        timeout.saturating_sub(now.monotonic.ok_or(errno(Errno::Inval))?)
                    }
                    (true, _) => return Err(errno(Errno::Inval)),
                };
                Subscription::Clock { userdata, wait }
            }
            EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE => Subscription::Fd {
                userdata,
                kind,
                fd: read_u32(sub, 16)?,
            },
            _ => return Err(errno(Errno::Inval)),
        };
        subscriptions.push(subscription);
    }
    Ok(subscriptions)
}

/// How ready `fd` is for reading or writing (`kind`): the event's byte count and flags.
///
/// # Errors
///
/// `EBADF` for a descriptor that is not open or is a directory.
fn readiness(state: &mut WasiState, fd: u32, kind: u8) -> Result<(u64, u16), Fault> {
    let reading = kind == EVENTTYPE_FD_READ;
    match (state.fds.stdio(fd), reading) {
        (Some(Stdio::Input(pipe)), true) => {
            let left = pipe.as_ref().map_or(0, |pipe| pipe.remaining()) as u64;
            let flags = if left == 0 { EVENTRWFLAGS_HANGUP } else { 0 };
            return Ok((left, flags));
        }
        (Some(Stdio::Output(output)), false) => {
            let room = match output {
                Output::Discard => MAX_BYTES_PER_CALL,
                Output::Pipe(pipe) => pipe.room(),
                // A write up to the capacity always completes (after the host took the
                // stream's contents): the room left now is not the guest's to see.
                Output::Stream(stream) => stream.capacity(),
            };
            return Ok((room as u64, 0));
        }
        (Some(_), _) => return Ok((0, 0)),
        (None, _) => {}
    }
    match fdstat(state, fd)? {
        (Filetype::Directory, ..) => Err(Fault::Errno(errno(Errno::Badf))),
        (Filetype::RegularFile, ..) if reading => Ok((left_in_file(state, fd), 0)),
        _ => Ok((0, 0)),
    }
}

/// Bytes between a file's position and its end.
fn left_in_file(state: &mut WasiState, fd: u32) -> u64 {
    let mut memory = guest::no_memory();
    let size = guest::ready(state.ctx.fd_filestat_get(&mut memory, Fd::from(fd)))
        .and_then(Result::ok)
        .map_or(0, |stat| stat.size);
    let position = guest::ready(state.ctx.fd_tell(&mut memory, Fd::from(fd)))
        .and_then(Result::ok)
        .unwrap_or(0);
    size.saturating_sub(position)
}
