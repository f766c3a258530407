//! Progress reporting: a CLI draws bars from it; a library user leaves it out and stays quiet.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use registry_core::{ContentStream, Error, PackageRef, Version};

/// Told about transfers as they happen. Every method has an empty default.
pub trait Progress: Send + Sync {
    /// A download of `package@version` starts; `total` is its size when known.
    fn download_started(&self, package: &PackageRef, version: &Version, total: Option<u64>) {
        let _ = (package, version, total);
    }

    /// `bytes` more bytes of `package@version` arrived.
    fn downloaded(&self, package: &PackageRef, version: &Version, bytes: u64) {
        let _ = (package, version, bytes);
    }

    /// The transfer of `package@version` ended: `ok` when every byte arrived (the cache
    /// verifies them next), `false` when it failed or was abandoned.
    fn download_finished(&self, package: &PackageRef, version: &Version, ok: bool) {
        let _ = (package, version, ok);
    }
}

/// A stream that reports its chunks to a [`Progress`].
pub(crate) struct Reporting {
    inner: ContentStream,
    progress: Arc<dyn Progress>,
    package: PackageRef,
    version: Version,
    finished: bool,
}

impl Reporting {
    pub(crate) fn wrap(
        inner: ContentStream,
        progress: Arc<dyn Progress>,
        package: &PackageRef,
        version: &Version,
        total: Option<u64>,
    ) -> ContentStream {
        progress.download_started(package, version, total);
        Box::pin(Self {
            inner,
            progress,
            package: package.clone(),
            version: version.clone(),
            finished: false,
        })
    }

    fn finish(&mut self, ok: bool) {
        if !self.finished {
            self.finished = true;
            self.progress
                .download_finished(&self.package, &self.version, ok);
        }
    }
}

impl Stream for Reporting {
    type Item = Result<bytes::Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let next = this.inner.as_mut().poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => {
                this.progress
                    .downloaded(&this.package, &this.version, chunk.len() as u64);
            }
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Ready(None) => this.finish(true),
            Poll::Pending => {}
        }
        next
    }
}

impl Drop for Reporting {
    fn drop(&mut self) {
        self.finish(false);
    }
}
