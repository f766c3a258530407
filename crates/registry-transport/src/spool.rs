//! The publish spool: content read once, hashed as it lands in a temporary file, checked
//! against what the caller declared, then read back (an upload) or renamed into place (a
//! directory registry).

use std::io::{Seek as _, SeekFrom};
use std::path::Path;

use registry_core::{ContentDigest, ContentReader, Error, PublishOptions};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Bytes read and written at a time.
const CHUNK: usize = 1024 * 1024;

/// Content to publish, on disk, with its digest and size.
#[derive(Debug)]
pub struct Spool {
    file: std::fs::File,
    path: Option<tempfile::TempPath>,
    digest: ContentDigest,
    size: u64,
    /// The publisher's own file, read in place: its digest is the declared one, which
    /// whoever reads it must check ([`verifier`](Self::verifier)).
    in_place: Option<std::path::PathBuf>,
}

/// An error writing an unnamed spool, which lives in the system's temporary directory:
/// named at that directory, with what to do when its file system refused the write.
fn temp_dir_error(source: std::io::Error) -> Error {
    let dir = std::env::temp_dir();
    let source = registry_config::fs::advise(
        source,
        &dir,
        Some("set TMPDIR to a directory with room for the content"),
    );
    Error::io(dir, source)
}

impl Spool {
    /// Copies `content` into an unnamed temporary file (gone when the spool is dropped).
    ///
    /// # Errors
    /// [`Error::Io`] when reading or writing fails; [`Error::InvalidInput`] when the
    /// content's size or digest is not the one `options` declares.
    pub async fn new(content: &mut ContentReader, options: &PublishOptions) -> Result<Self, Error> {
        let file = tempfile::tempfile().map_err(temp_dir_error)?;
        Self::fill(file, None, content, options, false).await
    }

    /// The content to publish: the file `options` names ([`PublishOptions::file`]) read in
    /// place when its size and digest are declared too (nothing copied; the reader is not
    /// read), else `content` copied as by [`new`](Self::new).
    ///
    /// # Errors
    /// As [`new`](Self::new); [`Error::InvalidInput`] when the named file is not the
    /// declared size (it changed since it was inspected).
    pub async fn for_publish(
        content: &mut ContentReader,
        options: &PublishOptions,
    ) -> Result<Self, Error> {
        let (Some(path), Some(size), Some(digest)) = (&options.file, options.size, options.digest)
        else {
            return Self::new(content, options).await;
        };
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let actual = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if actual != size {
            return Err(Error::InvalidInput {
                message: format!(
                    "{} is {actual} bytes, not the {size} bytes it was when it was checked: \
                     it changed during the publish; nothing was published",
                    path.display()
                ),
            });
        }
        Ok(Self {
            file,
            path: None,
            digest,
            size,
            in_place: Some(path.clone()),
        })
    }

    /// For content read in place ([`for_publish`](Self::for_publish)), a verifier that the
    /// bytes read for the upload must pass before anything refers to them; `None` for
    /// content copied here, which was hashed as it landed.
    pub fn verifier(&self) -> Option<registry_core::DigestVerifier> {
        let path = self.in_place.as_ref()?;
        let subject = path.display().to_string();
        Some(registry_core::DigestVerifier::new(
            self.digest,
            Some(self.size),
            subject,
        ))
    }

    /// For content read in place, hashes the file again (off the async workers) and
    /// reports [`changed`](Self::changed) unless it still has the declared digest and size;
    /// nothing to do for content copied here.
    ///
    /// # Errors
    /// As said, or [`Error::Io`] when the file cannot be read.
    pub async fn check_in_place(&self) -> Result<(), Error> {
        let Some(path) = self.in_place.clone() else {
            return Ok(());
        };
        let Some(mut verifier) = self.verifier() else {
            return Ok(());
        };
        let checked = tokio::task::spawn_blocking(move || -> Result<(), Error> {
            use std::io::Read as _;
            let mut file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            let mut buffer = vec![0u8; CHUNK];
            loop {
                let n = file.read(&mut buffer).map_err(|e| Error::io(&path, e))?;
                if n == 0 {
                    return verifier.finish().map(|_| ());
                }
                verifier.update(&buffer[..n])?;
            }
        })
        .await
        .map_err(|err| Error::Io {
            path: None,
            source: std::io::Error::other(err),
        })?;
        checked.map_err(|err| self.changed(&err))
    }

    /// What to report when the bytes read in place failed their [`verifier`](Self::verifier)
    /// (`err`): the file changed during the publish.
    pub fn changed(&self, err: &Error) -> Error {
        let file = self
            .in_place
            .as_ref()
            .map_or_else(|| "the content".to_owned(), |p| p.display().to_string());
        Error::InvalidInput {
            message: format!(
                "{file} changed while it was published: the bytes sent are not the {} bytes \
                 with digest {} it had when it was checked ({err}); no release refers to them, \
                 publish again once nothing writes to the file",
                self.size, self.digest
            ),
        }
    }

    /// Copies `content` into a named temporary file in `dir`, synced to disk, ready to be
    /// renamed into place with [`persist`](Self::persist) (removed if it never is).
    ///
    /// # Errors
    /// As [`new`](Self::new), naming `dir`.
    pub async fn in_dir(
        dir: &Path,
        content: &mut ContentReader,
        options: &PublishOptions,
    ) -> Result<Self, Error> {
        // What a killed publish left here goes; this one is claimed so no other run
        // takes it for such.
        registry_config::fs::remove_abandoned(dir, ".publish-", "");
        let temp = tempfile::Builder::new()
            .prefix(".publish-")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, registry_config::fs::advise(e, dir, None)))?;
        registry_config::fs::claim(temp.as_file());
        let (file, path) = temp.into_parts();
        Self::fill(file, Some(path), content, options, true).await
    }

    async fn fill(
        file: std::fs::File,
        path: Option<tempfile::TempPath>,
        content: &mut ContentReader,
        options: &PublishOptions,
        sync: bool,
    ) -> Result<Self, Error> {
        // A write the file system refused is named at the directory, with what to do (the
        // temporary file is removed by the time the message is read); others at the file.
        let io = |source| match &path {
            Some(path) if registry_config::fs::is_write_refused(&source) => {
                let dir = registry_config::fs::parent_dir(path);
                Error::io(dir, registry_config::fs::advise(source, dir, None))
            }
            Some(path) => Error::io(path.to_path_buf(), source),
            None => temp_dir_error(source),
        };
        let mut writer = tokio::fs::File::from_std(file.try_clone().map_err(io)?);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = content
                .read(&mut buffer)
                .await
                .map_err(|source| Error::Io { path: None, source })?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            writer.write_all(&buffer[..n]).await.map_err(io)?;
            size += n as u64;
        }
        writer.flush().await.map_err(io)?;
        if sync {
            writer.sync_all().await.map_err(io)?;
        }
        drop(writer);
        let digest = ContentDigest::from_sha256_bytes(hasher.finalize().into());
        if let Some(expected) = options.size.filter(|s| *s != size) {
            return Err(Error::InvalidInput {
                message: format!(
                    "the content is {size} bytes, not the {expected} bytes declared; nothing was \
                     published"
                ),
            });
        }
        if let Some(expected) = options.digest.filter(|d| *d != digest) {
            return Err(Error::InvalidInput {
                message: format!(
                    "the content's digest is {digest}, not the {expected} declared; nothing was \
                     published"
                ),
            });
        }
        Ok(Self {
            file,
            path,
            digest,
            size,
            in_place: None,
        })
    }

    /// The content's digest.
    pub fn digest(&self) -> ContentDigest {
        self.digest
    }

    /// The content's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A new handle on the content, at its start.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be duplicated or rewound.
    pub fn reopen(&self) -> Result<std::fs::File, Error> {
        let io = |source| Error::Io { path: None, source };
        let mut file = self.file.try_clone().map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        Ok(file)
    }

    /// Renames a spool made by [`in_dir`](Self::in_dir) to `dest` (in the same
    /// directory). With `replace` false an existing `dest` is left alone and the error's
    /// kind is [`std::io::ErrorKind::AlreadyExists`].
    ///
    /// # Errors
    /// The rename's error; [`std::io::ErrorKind::Unsupported`] for an unnamed spool.
    pub fn persist(self, dest: &Path, replace: bool) -> Result<(), std::io::Error> {
        let Some(path) = self.path else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "an unnamed spool cannot be renamed",
            ));
        };
        let result = if replace {
            path.persist(dest)
        } else {
            path.persist_noclobber(dest)
        };
        result.map_err(|err| err.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &'static [u8]) -> ContentReader {
        Box::pin(bytes)
    }

    #[tokio::test]
    async fn content_is_hashed_checked_and_read_back() {
        let spool = Spool::new(&mut reader(b"hello"), &PublishOptions::default())
            .await
            .unwrap();
        assert_eq!(spool.size(), 5);
        assert_eq!(spool.digest(), ContentDigest::sha256(b"hello"));
        let mut back = String::new();
        std::io::Read::read_to_string(&mut spool.reopen().unwrap(), &mut back).unwrap();
        assert_eq!(back, "hello");

        let wrong = PublishOptions::default().with_size(4);
        let err = Spool::new(&mut reader(b"hello"), &wrong).await.unwrap_err();
        assert!(
            err.to_string().contains("not the 4 bytes declared"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_named_spool_is_renamed_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("1.0.0.wasm");
        std::fs::write(&dest, b"old").unwrap();
        let options = PublishOptions::default();
        let spool = Spool::in_dir(dir.path(), &mut reader(b"new"), &options)
            .await
            .unwrap();
        let err = spool.persist(&dest, false).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        // The refused spool was removed: only the destination is left.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let spool = Spool::in_dir(dir.path(), &mut reader(b"new"), &options)
            .await
            .unwrap();
        spool.persist(&dest, true).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
    }
}
