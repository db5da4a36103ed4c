//! Staging a library: a private, unchangeable copy of its bytes that the probe process and
//! then the server open by file descriptor (`/proc/self/fd/N`), never by a path in a shared
//! directory.
//!
//! The copy is an anonymous memory file (`memfd_create`), sealed against writes, growth and
//! shrinking once filled, so nobody — another user, the plugin itself — can change the code
//! between the probe and `dlopen`, and nothing is left on disk at exit. Where the kernel
//! refuses executable memory files (`vm.memfd_noexec = 2`), the copy is made instead in a
//! fresh directory created with mode 0700 under the temporary directory (a name that already
//! exists is never reused), as a new file (`O_EXCL | O_NOFOLLOW`); file and directory are
//! removed at once and only the open descriptor remains.
//!
//! Only the part of an ELF library the dynamic loader maps is copied: the program headers and
//! every segment, which come first in the file. What follows — debug information, the static
//! symbol table, section headers — is never read by the loader, and since a loaded library's
//! copy is kept for the life of the process (below), copying it would cost its full size in
//! memory for every deployment (a release plugin built with line tables is 6 MB of which
//! 0.5 MB is code and data). The price: a backtrace through plugin code names only its
//! exported functions (a panic's message and location are unaffected).
//!
//! Each staged copy has its own descriptor number for as long as it lives, and a loaded
//! library's copy lives as long as the process (libraries are never unloaded). That matters:
//! the dynamic loader recognises an already-loaded library by the path it was opened with,
//! so a descriptor number must never be reused for a second library.

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};

/// A library's bytes, copied where only this process can reach them.
#[derive(Debug)]
pub(crate) struct StagedLibrary {
    copy: File,
}

impl StagedLibrary {
    /// The path the dynamic loader opens: this process's descriptor of the copy.
    pub(crate) fn loader_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.copy.as_raw_fd()))
    }

    /// A second descriptor of the copy, to hand to a child process.
    pub(crate) fn duplicate(&self) -> io::Result<File> {
        self.copy.try_clone()
    }
}

/// Copies `file` into a sealed memory file, or a private directory where that is refused.
pub(crate) fn stage(file: &Path) -> io::Result<StagedLibrary> {
    use std::io::Write;
    let bytes = std::fs::read(file)?;
    let (mut copy, sealable) = match memory_file() {
        Ok(copy) => (copy, true),
        Err(_) => (private_file()?, false),
    };
    let loaded = loaded_extent(&bytes).map_or(bytes.len(), |end| end.min(bytes.len()));
    copy.write_all(&bytes[..loaded])?;
    if sealable {
        seal(&copy)?;
    }
    Ok(StagedLibrary { copy })
}

/// Where the part of a 64-bit little-endian ELF file that the loader reads ends: past the
/// program headers and every segment's bytes in the file. `None` for anything else (copied
/// whole: the loader judges it).
fn loaded_extent(elf: &[u8]) -> Option<usize> {
    const CLASS_64: u8 = 2;
    const LITTLE_ENDIAN: u8 = 1;
    if elf.get(..4)? != b"\x7fELF" || elf.get(4)? != &CLASS_64 || elf.get(5)? != &LITTLE_ENDIAN {
        return None;
    }
    let word = |at: usize| -> Option<u64> {
        let bytes: [u8; 8] = elf.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    };
    let half = |at: usize| -> Option<u64> {
        let bytes: [u8; 2] = elf.get(at..at + 2)?.try_into().ok()?;
        Some(u64::from(u16::from_le_bytes(bytes)))
    };
    // ELF64 header: e_phoff at 0x20, e_phentsize at 0x36, e_phnum at 0x38.
    let (table, entry, count) = (word(0x20)?, half(0x36)?, half(0x38)?);
    let mut end = table.checked_add(entry.checked_mul(count)?)?;
    for index in 0..count {
        let header = usize::try_from(table.checked_add(index * entry)?).ok()?;
        // Program header: p_offset at 0x08, p_filesz at 0x20.
        let (offset, size) = (
            word(header.checked_add(0x08)?)?,
            word(header.checked_add(0x20)?)?,
        );
        end = end.max(offset.checked_add(size)?);
    }
    usize::try_from(end).ok()
}

/// `memfd_create` with close-on-exec and sealing allowed; marked executable explicitly where
/// the kernel knows the flag (6.3+, which warns otherwise), without it where it does not.
fn memory_file() -> io::Result<File> {
    const NAME: &CStr = c"berth-plugin";
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: NAME is a valid C string; the flags are plain bits.
    let mut fd = unsafe { libc::memfd_create(NAME.as_ptr(), flags | libc::MFD_EXEC) };
    if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(NAME.as_ptr(), flags) };
    }
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn seal(copy: &File) -> io::Result<()> {
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on a descriptor we own, with an integer argument.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A new file in a new 0700 directory of ours under the temporary directory, both removed
/// at once: only the descriptor remains.
fn private_file() -> io::Result<File> {
    let dir = private_dir(&std::env::temp_dir())?;
    let made = new_file(&dir.join("plugin.so"));
    let _ = std::fs::remove_file(dir.join("plugin.so"));
    let _ = std::fs::remove_dir(&dir);
    made
}

/// Creates a directory no one else can enter, under a name nobody else created first.
fn private_dir(parent: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static ATTEMPT: AtomicU64 = AtomicU64::new(0);
    let mut last_error = io::Error::from(io::ErrorKind::AlreadyExists);
    for _ in 0..16 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| t.subsec_nanos());
        let attempt = ATTEMPT.fetch_add(1, Ordering::Relaxed);
        let name = format!("berth-{}-{nanos:09}-{attempt}", std::process::id());
        let dir = parent.join(name);
        // `create`, not `create_all`: a directory someone else made first is an error.
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = error,
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

fn new_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o700)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn temp_parent(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("berth-stage-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test dir");
        dir
    }

    #[test]
    fn a_staged_copy_holds_the_bytes_and_cannot_be_changed() {
        let parent = temp_parent("memfd");
        let original = parent.join("libx.so");
        std::fs::write(&original, b"library bytes").expect("write");
        let staged = stage(&original).expect("staged");
        let mut text = String::new();
        File::open(staged.loader_path())
            .expect("the loader path opens")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "library bytes");
        let mut writer = staged.duplicate().expect("dup");
        writer.rewind().expect("rewind");
        assert!(writer.write_all(b"evil").is_err(), "sealed against writes");
        std::fs::write(&original, b"changed later").expect("rewrite");
        let mut again = String::new();
        File::open(staged.loader_path())
            .expect("open")
            .read_to_string(&mut again)
            .expect("read");
        assert_eq!(
            again, "library bytes",
            "the copy does not follow the original"
        );
        let _ = std::fs::remove_dir_all(parent);
    }

    #[test]
    fn only_what_the_loader_maps_of_a_library_is_staged() {
        let library = std::env::current_exe().expect("this test binary is an ELF file");
        let bytes = std::fs::read(&library).expect("read");
        let end = loaded_extent(&bytes).expect("an ELF64 little-endian file");
        assert!(end > 0 && end <= bytes.len(), "{end} of {}", bytes.len());
        let staged = stage(&library).expect("staged");
        let mut copy = Vec::new();
        File::open(staged.loader_path())
            .expect("open")
            .read_to_end(&mut copy)
            .expect("read");
        assert_eq!(copy, bytes[..end], "the mapped prefix, byte for byte");
    }

    #[test]
    fn anything_but_an_elf64_file_is_staged_whole() {
        assert_eq!(loaded_extent(b"library bytes"), None);
        assert_eq!(loaded_extent(b"\x7fELF\x01\x01"), None, "32-bit");
        assert_eq!(loaded_extent(b"\x7fELF\x02\x01"), None, "truncated header");
    }

    #[test]
    fn a_private_directory_is_new_and_closed_to_others() {
        let parent = temp_parent("private");
        let dir = private_dir(&parent).expect("created");
        let meta = std::fs::metadata(&dir).expect("metadata");
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        // SAFETY: getuid has no preconditions.
        assert_eq!(meta.uid(), unsafe { libc::getuid() });
        let second = private_dir(&parent).expect("another");
        assert_ne!(dir, second, "never the same directory twice");
        let _ = std::fs::remove_dir_all(parent);
    }

    #[test]
    fn a_new_file_refuses_an_existing_name_and_a_symlink() {
        let parent = temp_parent("excl");
        let victim = parent.join("victim");
        std::fs::write(&victim, b"keep me").expect("victim");
        let link = parent.join("link.so");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        assert!(new_file(&link).is_err(), "a symlink is never followed");
        assert!(
            new_file(&victim).is_err(),
            "an existing file is never reused"
        );
        assert_eq!(std::fs::read(&victim).expect("read"), b"keep me");
        let _ = std::fs::remove_dir_all(parent);
    }
}
