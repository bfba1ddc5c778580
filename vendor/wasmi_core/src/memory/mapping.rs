//! Anonymous memory mappings for the bytes of linear memories.
//!
//! A linear memory should cost what its guest touches. The kernel backs a private anonymous
//! mapping with one shared zero page until a page is written, so a fresh mapping needs no
//! `memset` however big it is, and `mremap` grows it without copying a byte (it moves page
//! tables at most) with new pages that read as zero. Reserving nothing up front keeps this
//! within a 32-bit address space too: a mapping is exactly as large as its memory, rounded
//! up to whole pages, and moves if it cannot grow in place.
//!
//! Mappings are readable and writable, never executable.
//!
//! This module holds all the `unsafe` code of the mapped byte buffer: [`Mapping`] owns its
//! pages the way a `Box<[u8]>` owns its bytes, and hands out a pointer to them. On targets
//! without `mremap` (everything but Linux and Android) [`Mapping::new`] always returns
//! `None` and linear memories stay on the heap.

#[cfg(any(target_os = "linux", target_os = "android"))]
pub use self::linux::Mapping;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub use self::none::Mapping;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use core::ptr::{self, NonNull};

    /// An anonymous, private, readable and writable mapping of whole pages, all zero when
    /// mapped or grown.
    #[derive(Debug)]
    pub struct Mapping {
        /// The first byte of the mapping.
        ptr: NonNull<u8>,
        /// The mapping's length in bytes: a positive multiple of the page size.
        len: usize,
    }

    // SAFETY: a `Mapping` owns its pages exclusively, as a `Box<[u8]>` owns its bytes; it
    // never reads or writes them itself. Moving it to another thread, or sharing a
    // `&Mapping` (which only gives out the pointer), is sound.
    unsafe impl Send for Mapping {}
    unsafe impl Sync for Mapping {}

    /// `len` rounded up to whole pages; `None` for 0 bytes or on overflow.
    fn whole_pages(len: usize) -> Option<usize> {
        // SAFETY: `sysconf` has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = usize::try_from(page).ok().filter(|page| page.is_power_of_two())?;
        let len = len.checked_add(page - 1)? & !(page - 1);
        (len > 0).then_some(len)
    }

    impl Mapping {
        /// Maps at least `len` bytes (whole pages), all zero; `None` for 0 bytes or when the
        /// kernel refuses (address space or commit limit, `vm.max_map_count`).
        pub fn new(len: usize) -> Option<Self> {
            let len = whole_pages(len)?;
            // SAFETY: a new private anonymous mapping at an address the kernel chooses: it
            // cannot replace or alias any memory in use.
            let ptr = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                return None;
            }
            let ptr = NonNull::new(ptr.cast::<u8>())?;
            Some(Self { ptr, len })
        }

        /// Grows the mapping to at least `len` bytes (whole pages); the bytes past its old
        /// end read as zero. It may move: read [`Mapping::as_ptr`] again afterwards.
        ///
        /// Returns `false`, and leaves the mapping as it was, when the kernel refuses.
        pub fn grow(&mut self, len: usize) -> bool {
            let Some(len) = whole_pages(len) else {
                return false;
            };
            if len <= self.len {
                return true;
            }
            // SAFETY: `ptr..ptr + self.len` is exactly the mapping `self` owns, and the
            // `&mut self` rules out any borrow of its bytes. With `MREMAP_MAYMOVE` the kernel
            // either extends it in place or moves its pages to a new range and unmaps the
            // old one; either way the new part is fresh anonymous memory, zero. On failure
            // nothing changes.
            let ptr = unsafe {
                libc::mremap(
                    self.ptr.as_ptr().cast::<libc::c_void>(),
                    self.len,
                    len,
                    libc::MREMAP_MAYMOVE,
                )
            };
            if ptr == libc::MAP_FAILED {
                return false;
            }
            match NonNull::new(ptr.cast::<u8>()) {
                Some(ptr) => {
                    self.ptr = ptr;
                    self.len = len;
                    true
                }
                None => false,
            }
        }

        /// The first byte of the mapping, valid for reads and writes of [`Mapping::len`]
        /// bytes until the mapping grows or is dropped.
        pub fn as_ptr(&self) -> *mut u8 {
            self.ptr.as_ptr()
        }

        /// The mapping's length in bytes: whole pages.
        pub fn len(&self) -> usize {
            self.len
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: the mapping is owned by `self`, which no one uses any more.
            unsafe {
                libc::munmap(self.ptr.as_ptr().cast::<libc::c_void>(), self.len);
            }
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod none {
    /// No mappings on this target: linear memories stay on the heap.
    #[derive(Debug)]
    pub enum Mapping {}

    impl Mapping {
        /// Always `None`.
        pub fn new(_len: usize) -> Option<Self> {
            None
        }

        /// Never called: there is no mapping to grow.
        pub fn grow(&mut self, _len: usize) -> bool {
            match *self {}
        }

        /// Never called: there is no mapping.
        pub fn as_ptr(&self) -> *mut u8 {
            match *self {}
        }

        /// Never called: there is no mapping.
        pub fn len(&self) -> usize {
            match *self {}
        }
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::Mapping;
    use core::slice;

    fn bytes(mapping: &Mapping) -> &[u8] {
        // SAFETY: test-only view of a mapping no one else uses.
        unsafe { slice::from_raw_parts(mapping.as_ptr(), mapping.len()) }
    }

    fn bytes_mut(mapping: &mut Mapping) -> &mut [u8] {
        // SAFETY: test-only view of a mapping no one else uses.
        unsafe { slice::from_raw_parts_mut(mapping.as_ptr(), mapping.len()) }
    }

    #[test]
    fn mappings_are_whole_zero_pages_and_keep_their_bytes_when_grown() {
        assert!(Mapping::new(0).is_none());
        let mut mapping = Mapping::new(1).unwrap();
        let page = mapping.len();
        assert!(page.is_power_of_two() && page >= 4096);
        assert!(bytes(&mapping).iter().all(|byte| *byte == 0));
        bytes_mut(&mut mapping)[page - 1] = 0xAB;
        for len in [page, page + 1, 3 * page, 1000 * page + 5] {
            assert!(mapping.grow(len));
            assert_eq!(mapping.len(), len.next_multiple_of(page));
            let all = bytes(&mapping);
            assert_eq!(all[page - 1], 0xAB);
            assert!(all[page..].iter().all(|byte| *byte == 0));
        }
        assert!(mapping.grow(page), "growing to less is a no-op");
        assert_eq!(mapping.len(), 1001 * page);
    }

    #[test]
    fn impossible_mappings_are_refused() {
        // Too big for any address space, 32-bit or 64-bit.
        let huge = usize::MAX - 0xFFFF;
        assert!(Mapping::new(usize::MAX).is_none());
        assert!(Mapping::new(huge).is_none());
        let mut mapping = Mapping::new(1).unwrap();
        let len = mapping.len();
        assert!(!mapping.grow(usize::MAX));
        assert!(!mapping.grow(huge));
        assert_eq!(mapping.len(), len);
    }
}
