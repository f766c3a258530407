//! The Wasm magic check every content fetch of the OCI backends makes ([`wasm_only`]):
//! every Wasm layer (a component, a core module, a binary WIT package) starts with
//! [`WASM_MAGIC`], so bytes that do not are refused as they stream, before a byte is passed
//! on, and nothing that is not WebAssembly is handed on or cached. It matters most for
//! layers read by their title rather than their media type ([`Parsed::TitledLayer`]: one
//! layer titled `*.wasm`, as `oras push` writes it), and it holds however the release was
//! found: a release from a lock file's pin is fetched by its digest without its manifest
//! being read, so the check cannot depend on what a manifest said.
//!
//! [`Parsed::TitledLayer`]: crate::manifest::Parsed::TitledLayer

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use registry_core::{ContentStream, Error, PackageRef, Registry, Release};

use crate::manifest::WASM_MAGIC;

/// The content of `release` as `stream` brings it, checked for [`WASM_MAGIC`] before a
/// byte is passed on; otherwise its one item is an error naming `registry`, `package`, the
/// layer's digest and what it starts with.
pub(crate) fn wasm_only(
    stream: ContentStream,
    registry: &Registry,
    package: &PackageRef,
    release: &Release,
) -> ContentStream {
    let registry = registry.clone();
    let layer = format!(
        "the layer {} of {package}@{}",
        release.digest, release.version
    );
    starting_with_magic(stream, move |found| {
        let found = describe_start(found);
        Error::registry(
            &registry,
            format!("{layer} is not WebAssembly: {found}, not `\\0asm`; it was not used"),
        )
    })
}

/// What a layer that is not WebAssembly starts with, for a message: its first bytes escaped
/// (`\x1f\x8b\x08\x00`), or that it has fewer than four.
pub(crate) fn describe_start(found: &[u8]) -> String {
    let escaped: String = found
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if found.len() < WASM_MAGIC.len() {
        format!("it is {} bytes long (`{escaped}`)", found.len())
    } else {
        format!("it starts with `{escaped}`")
    }
}

/// `inner`, passed on only once its first four bytes are [`WASM_MAGIC`]; otherwise its one
/// item is the error `refuse` makes of the bytes it started with (fewer than four when it
/// ended sooner). Errors of `inner` are passed on as they come.
pub(crate) fn starting_with_magic<F>(inner: ContentStream, refuse: F) -> ContentStream
where
    F: FnOnce(&[u8]) -> Error + Send + Unpin + 'static,
{
    Box::pin(MagicChecked {
        inner,
        head: Vec::new(),
        refuse: Some(refuse),
        checked: false,
    })
}

struct MagicChecked<F> {
    inner: ContentStream,
    /// The bytes read before the check (fewer than four, or the first chunk that made four).
    head: Vec<u8>,
    /// `None` once the stream has failed the check.
    refuse: Option<F>,
    checked: bool,
}

impl<F> Stream for MagicChecked<F>
where
    F: FnOnce(&[u8]) -> Error + Unpin,
{
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.checked {
            return this.inner.as_mut().poll_next(cx);
        }
        loop {
            if this.refuse.is_none() {
                return Poll::Ready(None);
            }
            // Taken only once `inner` has an answer: a stream that is not ready yet (a file
            // read on a blocking thread, a body still on its way) is asked again later.
            let item = ready!(this.inner.as_mut().poll_next(cx));
            let refuse = this.refuse.take().expect("checked above");
            match item {
                Some(Ok(chunk)) => {
                    this.head.extend_from_slice(&chunk);
                    if this.head.len() < WASM_MAGIC.len() {
                        this.refuse = Some(refuse);
                        continue;
                    }
                    if this.head.starts_with(WASM_MAGIC) {
                        this.checked = true;
                        return Poll::Ready(Some(Ok(Bytes::from(std::mem::take(&mut this.head)))));
                    }
                    return Poll::Ready(Some(Err(refuse(&this.head[..WASM_MAGIC.len()]))));
                }
                Some(Err(err)) => return Poll::Ready(Some(Err(err))),
                None => return Poll::Ready(Some(Err(refuse(&this.head)))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt as _;

    use super::*;

    fn stream(chunks: &[&'static [u8]]) -> ContentStream {
        let items: Vec<Result<Bytes, Error>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        Box::pin(futures_util::stream::iter(items))
    }

    async fn collect(chunks: &[&'static [u8]]) -> Vec<Result<Vec<u8>, String>> {
        let checked = starting_with_magic(stream(chunks), |found| {
            Error::registry(&"r.example".parse().unwrap(), describe_start(found))
        });
        checked
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .map(|item| item.map(|b| b.to_vec()).map_err(|e| e.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn wasm_passes_whole_however_it_is_split() {
        for chunks in [
            &[b"\0asm\x01\0\0\0".as_slice()][..],
            &[b"\0a", b"", b"s", b"m\x0d\0\x01\0", b"rest"],
        ] {
            let passed: Vec<u8> = collect(chunks)
                .await
                .into_iter()
                .flat_map(Result::unwrap)
                .collect();
            assert_eq!(passed, chunks.concat());
        }
    }

    /// A stream that is not ready at first (as a file read on a blocking thread is not).
    struct Late(Option<ContentStream>, bool);

    impl Stream for Late {
        type Item = Result<Bytes, Error>;

        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            let this = self.get_mut();
            if !this.1 {
                this.1 = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.0.as_mut().expect("set").as_mut().poll_next(cx)
        }
    }

    #[tokio::test]
    async fn a_stream_not_ready_at_first_is_passed_whole() {
        let bytes = b"\0asm\x01\0\0\0late";
        let late: ContentStream = Box::pin(Late(Some(stream(&[bytes])), false));
        let checked = starting_with_magic(late, |found| {
            Error::registry(&"r.example".parse().unwrap(), describe_start(found))
        });
        let passed: Vec<u8> = checked
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .flat_map(|item| item.unwrap().to_vec())
            .collect();
        assert_eq!(passed, bytes);
    }

    #[tokio::test]
    async fn anything_else_fails_before_a_byte_is_passed() {
        assert_eq!(
            collect(&[b"\x1f\x8b", b"\x08\0more", b"never read"]).await,
            vec![Err(
                "registry `r.example`: it starts with `\\x1f\\x8b\\x08\\x00`".to_owned()
            )]
        );
        assert_eq!(
            collect(&[b"\0a"]).await,
            vec![Err(
                "registry `r.example`: it is 2 bytes long (`\\x00a`)".to_owned()
            )]
        );
        assert_eq!(
            collect(&[]).await,
            vec![Err(
                "registry `r.example`: it is 0 bytes long (``)".to_owned()
            )]
        );
    }
}
