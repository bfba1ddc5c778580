//! Preopened directories and the directories opened under them, over cap-std (which keeps
//! every path inside its directory), in place of wasi-common's `sync::dir::Dir`.
//!
//! What differs from wasi-common 36:
//!
//! - **Opening never waits.** `open(2)` of a FIFO blocks until the other end is opened,
//!   and a device's open may block too; on a BEAM scheduler thread that would stall every
//!   process behind it, beyond any timeout. Every open is non-blocking, and anything that
//!   is not a regular file or a directory (FIFOs, sockets, character and block devices,
//!   symlinks to them) is refused with `ENOTSUP`, checked before opening and again on
//!   the opened file. Regular files then lose `O_NONBLOCK` unless the guest asked for it.
//! - **`O_APPEND | O_TRUNC`** opens (Rust's `OpenOptions` refuses the pair with
//!   `EINVAL`): the file is truncated right after it is opened.
//! - **Listings** are read once when a guest starts reading a directory (cookie 0) and
//!   served from that snapshot for later cookies, instead of being read again, entry by
//!   entry, for every call. In a deterministic run they are sorted by name and carry
//!   stable inode numbers ([`super::deterministic`]).

use super::deterministic::SharedInodes;
use super::fuel::cost;
use super::guest::{self, finish, read_u32, ready, write_u32, SUCCESS};
use super::work::{self, Done, Outcome, Work};
use crate::store::Host;
use async_trait::async_trait;
use cap_fs_ext::{DirEntryExt, DirExt, MetadataExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt};
use cap_std::fs;
use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use wasmi::{Caller, Linker};
use wasmi_wasi::wasi_common::dir::{OpenResult, ReaddirCursor, ReaddirEntity, WasiDir};
use wasmi_wasi::wasi_common::file::{FdFlags, FileType, Filestat, OFlags};
use wasmi_wasi::wasi_common::snapshots::preview_1::wasi_snapshot_preview1 as preview1;
use wasmi_wasi::wasi_common::sync::file::{filetype_from, File};
use wasmi_wasi::wasi_common::{Error, ErrorExt, SystemTimeSpec, WasiFile};

/// Bytes of entries one `fd_readdir` copies within the calling slice, from a listing
/// already read: about a thousand entries, a fraction of a millisecond. (wasi-libc reads
/// 4 KiB at a time.)
const INLINE_LISTING_BYTES: u32 = 64 << 10;

/// What the directories of a store share.
#[derive(Debug, Clone, Default)]
pub(super) struct Shared {
    /// Stable inode numbers, in a deterministic run.
    inodes: Option<SharedInodes>,
    /// Set while `fd_readdir` runs within a slice: reading a directory then is refused
    /// ([`ListingNeeded`]), to be done as host work.
    within_slice: Arc<AtomicBool>,
}

impl Shared {
    pub(super) fn new(inodes: Option<SharedInodes>) -> Self {
        Self {
            inodes,
            within_slice: Arc::default(),
        }
    }
}

/// The error a directory read within a slice fails with, before it had any effect.
#[derive(Debug)]
struct ListingNeeded;

impl std::fmt::Display for ListingNeeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a directory was to be read within a slice")
    }
}

impl std::error::Error for ListingNeeded {}

/// A directory the guest may use.
pub(super) struct Dir {
    dir: fs::Dir,
    shared: Shared,
    /// The listing being read, from the last read at cookie 0.
    listing: Mutex<Option<Arc<Vec<ReaddirEntity>>>>,
}

impl Dir {
    pub(super) fn new(dir: fs::Dir, shared: Shared) -> Self {
        Self {
            dir,
            shared,
            listing: Mutex::new(None),
        }
    }

    /// The entries of the directory, `.` and `..` first, each with the cookie of the next.
    fn list(&self) -> Result<Vec<ReaddirEntity>, Error> {
        let metadata = self.dir.dir_metadata()?;
        let device = metadata.dev();
        let mut entries = vec![
            (".".to_string(), FileType::Directory, metadata.ino()),
            ("..".to_string(), FileType::Directory, metadata.ino()),
        ];
        let mut rest = Vec::new();
        for entry in self.dir.entries()? {
            let entry = entry?;
            let metadata = entry.full_metadata()?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| Error::illegal_byte_sequence())?;
            rest.push((name, filetype_from(&metadata.file_type()), metadata.ino()));
        }
        if let Some(inodes) = &self.shared.inodes {
            rest.sort_by(|a, b| a.0.cmp(&b.0));
            entries.extend(rest);
            let mut inodes = inodes.lock().unwrap_or_else(PoisonError::into_inner);
            for entry in &mut entries {
                entry.2 = inodes.inode(device, entry.2);
            }
        } else {
            entries.extend(rest);
        }
        Ok(entries
            .into_iter()
            .enumerate()
            .map(|(index, (name, filetype, inode))| ReaddirEntity {
                next: ReaddirCursor::from(index as u64 + 1),
                inode,
                name,
                filetype,
            })
            .collect())
    }

    /// The metadata of `path`, or of the symlink it names when not following symlinks.
    fn metadata(&self, path: &str, follow: bool) -> std::io::Result<fs::Metadata> {
        if follow {
            self.dir.metadata(path)
        } else {
            self.dir.symlink_metadata(path)
        }
    }

    fn filestat(metadata: &fs::Metadata) -> Filestat {
        Filestat {
            device_id: metadata.dev(),
            inode: metadata.ino(),
            filetype: filetype_from(&metadata.file_type()),
            nlink: metadata.nlink(),
            size: metadata.len(),
            atim: metadata.accessed().ok().map(|t| t.into_std()),
            mtim: metadata.modified().ok().map(|t| t.into_std()),
            ctim: metadata.created().ok().map(|t| t.into_std()),
        }
    }

    fn downcast(dir: &dyn WasiDir) -> Result<&Self, Error> {
        dir.as_any()
            .downcast_ref::<Self>()
            .ok_or_else(|| Error::badf().context("not a directory of this store"))
    }
}

/// `ENOTSUP` for anything but a regular file, a directory or a symlink (a symlink is
/// only seen when it is not followed, and then not opened through).
fn refuse_special(file_type: &fs::FileType) -> Result<(), Error> {
    if file_type.is_file() || file_type.is_dir() || file_type.is_symlink() {
        Ok(())
    } else {
        Err(Error::not_supported().context("not a regular file or a directory"))
    }
}

#[async_trait]
impl WasiDir for Dir {
    fn as_any(&self) -> &dyn Any {
        self
    }

    /// Opens `path` without ever waiting; see the module documentation.
    async fn open_file(
        &self,
        follow: bool,
        path: &str,
        oflags: OFlags,
        read: bool,
        write: bool,
        fdflags: FdFlags,
    ) -> Result<OpenResult, Error> {
        use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};

        if fdflags.intersects(FdFlags::DSYNC | FdFlags::SYNC | FdFlags::RSYNC) {
            return Err(Error::not_supported().context("SYNC family of FdFlags"));
        }
        if oflags.contains(OFlags::DIRECTORY)
            && oflags.intersects(OFlags::CREATE | OFlags::EXCLUSIVE | OFlags::TRUNCATE)
        {
            return Err(Error::invalid_argument().context("directory oflags"));
        }
        // Refused before opening, so that a special file is not even opened (a device's
        // open can have effects); the opened file is checked again below, in case the
        // path changed in between.
        if let Ok(metadata) = self.metadata(path, follow) {
            refuse_special(&metadata.file_type())?;
        }

        let mut options = fs::OpenOptions::new();
        options.maybe_dir(true).nonblock(true);
        // Without either right, open for reading so that the OS lets us open the file;
        // wasi-common refuses reads without the read right before they get here.
        options
            .read(read || !write)
            .write(write || oflags.contains(OFlags::CREATE));
        if oflags.contains(OFlags::CREATE | OFlags::EXCLUSIVE) {
            options.create_new(true);
        } else if oflags.contains(OFlags::CREATE) {
            options.create(true);
        }
        let append = fdflags.contains(FdFlags::APPEND);
        // Rust refuses truncate with append; truncating right after opening is the same.
        let truncate_after = append && oflags.contains(OFlags::TRUNCATE);
        options
            .append(append)
            .truncate(oflags.contains(OFlags::TRUNCATE) && !truncate_after)
            .follow(if follow {
                FollowSymlinks::Yes
            } else {
                FollowSymlinks::No
            });

        let file = self.dir.open_with(Path::new(path), &options)?;
        let file_type = file.metadata()?.file_type();
        if file_type.is_dir() {
            let dir = fs::Dir::from_std_file(file.into_std());
            return Ok(OpenResult::Dir(Box::new(Dir::new(
                dir,
                self.shared.clone(),
            ))));
        }
        if oflags.contains(OFlags::DIRECTORY) {
            return Err(Error::not_dir().context("expected directory but got file"));
        }
        refuse_special(&file_type)?;
        if truncate_after {
            file.set_len(0)?;
        }
        let mut file = File::from_cap_std(file);
        // Exactly the flags the guest asked for: `O_NONBLOCK` goes unless it is one.
        super::guest::ready(file.set_fdflags(fdflags)).unwrap_or_else(|| Err(Error::io()))?;
        Ok(OpenResult::File(Box::new(file)))
    }

    async fn create_dir(&self, path: &str) -> Result<(), Error> {
        self.dir.create_dir(Path::new(path))?;
        Ok(())
    }

    async fn readdir(
        &self,
        cursor: ReaddirCursor,
    ) -> Result<Box<dyn Iterator<Item = Result<ReaddirEntity, Error>> + Send>, Error> {
        let skip = usize::try_from(u64::from(cursor)).unwrap_or(usize::MAX);
        let listing = {
            let mut listing = self.listing.lock().unwrap_or_else(PoisonError::into_inner);
            match &*listing {
                Some(entries) if skip != 0 => entries.clone(),
                _ if self.shared.within_slice.load(Ordering::Relaxed) => {
                    return Err(Error::trap(ListingNeeded.into()));
                }
                _ => listing.insert(Arc::new(self.list()?)).clone(),
            }
        };
        let len = listing.len();
        Ok(Box::new(
            (skip.min(len)..len).map(move |index| Ok(listing[index].clone())),
        ))
    }

    async fn symlink(&self, old_path: &str, new_path: &str) -> Result<(), Error> {
        self.dir.symlink(old_path, new_path)?;
        Ok(())
    }

    async fn remove_dir(&self, path: &str) -> Result<(), Error> {
        self.dir.remove_dir(Path::new(path))?;
        Ok(())
    }

    async fn unlink_file(&self, path: &str) -> Result<(), Error> {
        self.dir.remove_file_or_symlink(Path::new(path))?;
        Ok(())
    }

    async fn read_link(&self, path: &str) -> Result<PathBuf, Error> {
        Ok(self.dir.read_link(Path::new(path))?)
    }

    async fn get_filestat(&self) -> Result<Filestat, Error> {
        Ok(Self::filestat(&self.dir.dir_metadata()?))
    }

    async fn get_path_filestat(&self, path: &str, follow: bool) -> Result<Filestat, Error> {
        Ok(Self::filestat(&self.metadata(path, follow)?))
    }

    async fn rename(&self, path: &str, to_dir: &dyn WasiDir, to_path: &str) -> Result<(), Error> {
        let to_dir = &Self::downcast(to_dir)?.dir;
        Ok(self.dir.rename(path, to_dir, to_path)?)
    }

    async fn hard_link(
        &self,
        path: &str,
        to_dir: &dyn WasiDir,
        to_path: &str,
    ) -> Result<(), Error> {
        let to_dir = &Self::downcast(to_dir)?.dir;
        Ok(self.dir.hard_link(path, to_dir, to_path)?)
    }

    async fn set_times(
        &self,
        path: &str,
        atime: Option<SystemTimeSpec>,
        mtime: Option<SystemTimeSpec>,
        follow: bool,
    ) -> Result<(), Error> {
        let (atime, mtime) = (time_spec(atime), time_spec(mtime));
        if follow {
            self.dir.set_times(Path::new(path), atime, mtime)?;
        } else {
            self.dir.set_symlink_times(Path::new(path), atime, mtime)?;
        }
        Ok(())
    }
}

fn time_spec(time: Option<SystemTimeSpec>) -> Option<cap_fs_ext::SystemTimeSpec> {
    match time {
        Some(SystemTimeSpec::Absolute(time)) => Some(cap_fs_ext::SystemTimeSpec::Absolute(time)),
        Some(SystemTimeSpec::SymbolicNow) => Some(cap_fs_ext::SystemTimeSpec::SymbolicNow),
        None => None,
    }
}

/// Adds `fd_readdir` to `linker`.
///
/// # Errors
///
/// When the linker refuses the definition.
pub(super) fn add_to_linker(linker: &mut Linker<Host>) -> Result<(), wasmi::Error> {
    linker.func_wrap(super::MODULE, "fd_readdir", fd_readdir)?;
    Ok(())
}

/// `fd_readdir(fd, buf, buf_len, cookie, bufused_out)`.
fn fd_readdir(
    mut caller: Caller<'_, Host>,
    fd: i32,
    buf: i32,
    buf_len: i32,
    cookie: i64,
    bufused: i32,
) -> Result<i32, wasmi::Error> {
    let memory = guest::memory(&caller)?;
    let small = buf_len as u32 <= INLINE_LISTING_BYTES;
    let readdir = Readdir {
        fd,
        buf,
        buf_len,
        cookie,
        bufused,
    };
    work::run(&mut caller, memory, small, readdir)
}

/// One `fd_readdir`.
#[derive(Debug, Clone, Copy)]
struct Readdir {
    fd: i32,
    buf: i32,
    buf_len: i32,
    cookie: i64,
    bufused: i32,
}

impl Work for Readdir {
    /// wasi-common's `fd_readdir`; within a slice, `None` when it would read the directory.
    fn run(&self, data: &mut [u8], host: &mut Host, within_slice: bool) -> Outcome {
        let state = host.wasi_state();
        state
            .dirs
            .within_slice
            .store(within_slice, Ordering::Relaxed);
        let mut memory = wasmi_wasi::WasmiGuestMemory::Unshared(&mut *data);
        let output = ready(preview1::fd_readdir(
            &mut state.ctx,
            &mut memory,
            self.fd,
            self.buf,
            self.buf_len,
            self.cookie,
            self.bufused,
        ));
        state.dirs.within_slice.store(false, Ordering::Relaxed);
        if let Some(Err(error)) = &output {
            if error.is::<ListingNeeded>() {
                return Ok(None);
            }
        }
        let errno = finish(output)?;
        if errno != SUCCESS {
            return Ok(Some(Done::errno(errno)));
        }
        let used = read_u32(data, self.bufused as u32).unwrap_or(0);
        if let Ok(entries) = guest::bytes_mut(data, self.buf as u32, used as usize) {
            zero_padding(entries);
            // Written last, as wasi-common did: a count inside the buffer stays whole.
            let _ = write_u32(data, self.bufused as u32, used);
        }
        Ok(Some(Done {
            errno,
            fuel: cost(used as usize),
        }))
    }
}

/// The size of a `dirent` header, and where its padding is.
const DIRENT_SIZE: usize = 24;
const DIRENT_NAMLEN: usize = 16;
const DIRENT_PADDING: std::ops::Range<usize> = 21..24;

/// Zeroes the padding of the `dirent` headers in `entries`: wasi-common 36 writes each
/// header as a copy of a Rust struct, padding included, so those three bytes were
/// whatever was on the host's stack (a listing differed from run to run, and showed the
/// guest bytes of host memory).
fn zero_padding(entries: &mut [u8]) {
    let mut at = 0;
    while at < entries.len() {
        let padding = (at + DIRENT_PADDING.start).min(entries.len())
            ..(at + DIRENT_PADDING.end).min(entries.len());
        entries[padding].fill(0);
        let Ok(namlen) = read_u32(entries, (at + DIRENT_NAMLEN) as u32) else {
            return;
        };
        at = at
            .saturating_add(DIRENT_SIZE)
            .saturating_add(namlen as usize);
    }
}
