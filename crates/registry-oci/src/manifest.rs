//! Reading manifests leniently, and writing the CNCF Wasm OCI artifact layout.

use std::collections::BTreeMap;

use registry_core::ContentDigest;
use serde::{Deserialize, Serialize};

/// The largest manifest we read; anything bigger is refused.
pub const MANIFEST_MAX_BYTES: usize = 4 * 1024 * 1024;

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list media type (an index by another name).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The CNCF Wasm artifact config media type.
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The CNCF Wasm layer media type.
pub const WASM_LAYER: &str = "application/wasm";

/// The annotation holding a layer's file name (`oras push` sets it).
pub const TITLE: &str = "org.opencontainers.image.title";
/// The first four bytes of every Wasm module and component.
pub const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// The manifest media types we ask for.
pub const ACCEPTED: &[&str] = &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// A content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type.
    pub media_type: String,
    /// The digest, `sha256:...`.
    pub digest: String,
    /// The size in bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    media_type: Option<String>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawIndexEntry>>,
}

/// A descriptor as a registry wrote it, read leniently.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawDescriptor {
    #[serde(default)]
    pub(crate) media_type: String,
    pub(crate) digest: String,
    pub(crate) size: i64,
    /// Read as JSON values, so an annotation that is not a string is passed over rather
    /// than refused; only the title is looked at.
    #[serde(default)]
    annotations: Option<BTreeMap<String, serde_json::Value>>,
}

impl RawDescriptor {
    fn title(&self) -> Option<&str> {
        self.annotations.as_ref()?.get(TITLE)?.as_str()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIndexEntry {
    #[serde(default)]
    media_type: String,
    digest: String,
    artifact_type: Option<String>,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

/// What a manifest points to.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// An image manifest with exactly one Wasm layer.
    Layer {
        /// The layer's digest.
        digest: ContentDigest,
        /// The layer's size.
        size: u64,
    },
    /// An image manifest with one layer of no Wasm media type whose title names a `.wasm`
    /// file: what `oras push <ref> widget.wasm` writes (a `application/vnd.oci.image.layer.v1.tar`
    /// layer, an unknown config). Its bytes are a package only if they start with
    /// [`WASM_MAGIC`], which the reader must check as they stream, before using them.
    TitledLayer {
        /// The layer's digest.
        digest: ContentDigest,
        /// The layer's size.
        size: u64,
        /// Its `org.opencontainers.image.title`, ending in `.wasm`.
        title: String,
    },
    /// An image index whose one Wasm entry is this manifest digest.
    Index {
        /// The digest of the manifest to read next.
        manifest: String,
    },
}

fn is_wasm(media_type: &str) -> bool {
    media_type.to_ascii_lowercase().contains("wasm")
}

/// Reads a manifest leniently: an image manifest with exactly one layer whose media type
/// contains `wasm` is accepted, whatever its config type and with or without a `mediaType`
/// field; so is a manifest whose only layer, of whatever media type, is titled `*.wasm`
/// (what `oras push` writes; [`Parsed::TitledLayer`], whose bytes the reader checks); an
/// index leads to its one Wasm manifest. Errors are sentences about `what` (the
/// reference), naming the media types seen.
pub fn parse(bytes: &[u8], what: &str) -> Result<Parsed, String> {
    if bytes.len() > MANIFEST_MAX_BYTES {
        return Err(format!(
            "the manifest of `{what}` is {} bytes, over the {MANIFEST_MAX_BYTES}-byte limit",
            bytes.len()
        ));
    }
    let raw: RawManifest = serde_json::from_slice(bytes)
        .map_err(|err| format!("the manifest of `{what}` is not a valid manifest: {err}"))?;
    let media_type = raw.media_type.as_deref().unwrap_or("");
    if let Some(entries) = raw.manifests {
        return parse_index(&entries, what);
    }
    if media_type == OCI_INDEX || media_type == DOCKER_LIST {
        return Err(format!("the index `{what}` lists no manifests"));
    }
    let layers = raw.layers.unwrap_or_default();
    let wasm: Vec<&RawDescriptor> = layers.iter().filter(|l| is_wasm(&l.media_type)).collect();
    let seen = || {
        let types: Vec<&str> = layers.iter().map(|l| l.media_type.as_str()).collect();
        if types.is_empty() {
            "it has no layers".to_owned()
        } else {
            format!("its layers are {}", types.join(", "))
        }
    };
    let layer = match (wasm.as_slice(), layers.as_slice()) {
        ([one], _) => one,
        ([], [only]) => match only.title() {
            Some(title) if title.ends_with(".wasm") => {
                let (digest, size) = digest_and_size(only, what)?;
                return Ok(Parsed::TitledLayer {
                    digest,
                    size,
                    title: title.to_owned(),
                });
            }
            title => {
                return Err(format!(
                    "`{what}` is not a Wasm package: its one layer has no Wasm media type ({}) \
                     and {}",
                    only.media_type,
                    match title {
                        Some(title) =>
                            format!("its title {} does not name a `.wasm` file", shown(title)),
                        None => "no title naming a `.wasm` file".to_owned(),
                    }
                ));
            }
        },
        ([], _) => {
            return Err(format!(
                "`{what}` is not a Wasm package: no layer has a Wasm media type ({})",
                seen()
            ));
        }
        _ => {
            return Err(format!(
                "`{what}` is ambiguous: {} layers have a Wasm media type ({}); a Wasm package \
                 has exactly one",
                wasm.len(),
                seen()
            ));
        }
    };
    let (digest, size) = digest_and_size(layer, what)?;
    Ok(Parsed::Layer { digest, size })
}

fn digest_and_size(layer: &RawDescriptor, what: &str) -> Result<(ContentDigest, u64), String> {
    let digest = layer
        .digest
        .parse::<ContentDigest>()
        .map_err(|err| format!("the Wasm layer of `{what}` has an unusable digest: {err}"))?;
    let size = u64::try_from(layer.size)
        .map_err(|_| format!("the Wasm layer of `{what}` has a negative size"))?;
    Ok((digest, size))
}

/// A registry's text in a message: quoted, escaped, at most 100 characters.
fn shown(text: &str) -> String {
    let escaped: String = text.escape_debug().collect();
    match escaped.char_indices().nth(100) {
        Some((at, _)) => format!("\"{}...\"", &escaped[..at]),
        None => format!("\"{escaped}\""),
    }
}

fn parse_index(entries: &[RawIndexEntry], what: &str) -> Result<Parsed, String> {
    let wasm: Vec<&RawIndexEntry> = entries
        .iter()
        .filter(|e| {
            e.platform
                .as_ref()
                .is_some_and(|p| p.architecture == "wasm" || p.os == "wasip1" || p.os == "wasip2")
                || e.artifact_type.as_deref().is_some_and(is_wasm)
                || is_wasm(&e.media_type)
        })
        .collect();
    match wasm.as_slice() {
        [one] => Ok(Parsed::Index {
            manifest: one.digest.clone(),
        }),
        [] => {
            let seen: Vec<String> = entries
                .iter()
                .map(|e| match &e.platform {
                    Some(p) => format!("{} ({}/{})", e.media_type, p.os, p.architecture),
                    None => e.media_type.clone(),
                })
                .collect();
            Err(format!(
                "`{what}` is an image index with no Wasm manifest (it lists {})",
                if seen.is_empty() {
                    "nothing".to_owned()
                } else {
                    seen.join(", ")
                }
            ))
        }
        _ => Err(format!(
            "`{what}` is an image index with {} Wasm manifests; a Wasm package has exactly one",
            wasm.len()
        )),
    }
}

/// The `component` part of the Wasm artifact config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentConfig {
    /// The interfaces the component imports.
    pub imports: Vec<String>,
    /// The interfaces the component exports.
    pub exports: Vec<String>,
    /// The world the component targets, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The CNCF Wasm artifact config (`application/vnd.wasm.config.v0+json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WasmConfig {
    /// When the artifact was made (RFC 3339).
    pub created: String,
    /// Always `wasm`.
    pub architecture: String,
    /// `wasip2` for components.
    pub os: String,
    /// The digests of the layers.
    pub layer_digests: Vec<String>,
    /// What the component imports and exports.
    pub component: ComponentConfig,
}

/// The image manifest we write.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`OCI_MANIFEST`].
    pub media_type: &'static str,
    /// [`WASM_CONFIG`] blob.
    pub config: Descriptor,
    /// The one [`WASM_LAYER`].
    pub layers: Vec<Descriptor>,
    /// `org.opencontainers.image.*` annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    const DIGEST: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn manifest(config_type: &str, layer_types: &[&str], with_media_type: bool) -> String {
        let layers: Vec<String> = layer_types
            .iter()
            .map(|t| format!(r#"{{"mediaType":"{t}","digest":"{DIGEST}","size":5}}"#))
            .collect();
        let media_type = if with_media_type {
            format!(r#""mediaType":"{OCI_MANIFEST}","#)
        } else {
            String::new()
        };
        format!(
            r#"{{"schemaVersion":2,{media_type}"config":{{"mediaType":"{config_type}","digest":"{DIGEST}","size":5}},"layers":[{}]}}"#,
            layers.join(",")
        )
    }

    #[test]
    fn lenient_layouts_are_accepted() {
        let layer = Parsed::Layer {
            digest: DIGEST.parse().unwrap(),
            size: 5,
        };
        for (config, layer_type) in [
            (WASM_CONFIG, WASM_LAYER),
            ("application/vnd.oci.image.config.v1+json", WASM_LAYER),
            (
                "application/vnd.wasm.config.v1+json",
                "application/vnd.wasm.content.layer.v1+wasm",
            ),
            (
                "application/vnd.module.wasm.config.v1+json",
                "application/vnd.module.wasm.content.layer.v1+wasm",
            ),
            ("application/vnd.unknown.config", "application/WASM"),
        ] {
            for with_media_type in [true, false] {
                let text = manifest(config, &[layer_type], with_media_type);
                assert_eq!(parse(text.as_bytes(), "r").unwrap(), layer, "{text}");
            }
        }
    }

    #[test]
    fn rejections_name_the_reference_and_media_types() {
        let err =
            |text: String| parse(text.as_bytes(), "localhost:5000/acme/widget:1.0.0").unwrap_err();
        expect![[r#"`localhost:5000/acme/widget:1.0.0` is ambiguous: 2 layers have a Wasm media type (its layers are application/wasm, application/vnd.wasm.content.layer.v1+wasm); a Wasm package has exactly one"#]]
            .assert_eq(&err(manifest(WASM_CONFIG, &[WASM_LAYER, "application/vnd.wasm.content.layer.v1+wasm"], true)));
        expect![[r#"`localhost:5000/acme/widget:1.0.0` is not a Wasm package: its one layer has no Wasm media type (application/vnd.oci.image.layer.v1.tar+gzip) and no title naming a `.wasm` file"#]]
            .assert_eq(&err(manifest("application/vnd.oci.image.config.v1+json", &["application/vnd.oci.image.layer.v1.tar+gzip"], true)));
        expect![[r#"`localhost:5000/acme/widget:1.0.0` is not a Wasm package: no layer has a Wasm media type (its layers are application/vnd.oci.image.layer.v1.tar, application/vnd.oci.image.layer.v1.tar)"#]]
            .assert_eq(&err(manifest("application/vnd.oci.image.config.v1+json", &[TAR, TAR], true)));
        expect![[r#"`localhost:5000/acme/widget:1.0.0` is not a Wasm package: no layer has a Wasm media type (it has no layers)"#]]
            .assert_eq(&err(manifest(WASM_CONFIG, &[], true)));
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{DIGEST}","size":5,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
        );
        expect![[r#"`localhost:5000/acme/widget:1.0.0` is an image index with no Wasm manifest (it lists application/vnd.oci.image.manifest.v1+json (linux/amd64))"#]]
            .assert_eq(&err(index));
        assert!(err("{".to_owned()).contains("is not a valid manifest"));
        let huge = vec![b' '; MANIFEST_MAX_BYTES + 1];
        assert!(
            parse(&huge, "r")
                .unwrap_err()
                .contains("over the 4194304-byte limit")
        );
    }

    const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

    /// A manifest as `oras push` writes it, its layers titled as given.
    fn oras_manifest(titles: &[Option<&str>]) -> String {
        let layers: Vec<String> = titles
            .iter()
            .map(|title| {
                let annotations = match title {
                    Some(t) => format!(r#","annotations":{{"{TITLE}":{}}}"#, serde_json::json!(t)),
                    None => String::new(),
                };
                format!(r#"{{"mediaType":"{TAR}","digest":"{DIGEST}","size":5{annotations}}}"#)
            })
            .collect();
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.unknown.config.v1+json","digest":"{DIGEST}","size":2}},"layers":[{}]}}"#,
            layers.join(",")
        )
    }

    #[test]
    fn one_layer_titled_as_a_wasm_file_is_read_by_its_title() {
        assert_eq!(
            parse(oras_manifest(&[Some("widget.wasm")]).as_bytes(), "r").unwrap(),
            Parsed::TitledLayer {
                digest: DIGEST.parse().unwrap(),
                size: 5,
                title: "widget.wasm".to_owned()
            }
        );
        // A Wasm media type wins over titles, as before.
        let typed = manifest(WASM_CONFIG, &[WASM_LAYER], true);
        assert!(matches!(
            parse(typed.as_bytes(), "r").unwrap(),
            Parsed::Layer { .. }
        ));
        // A title that is not a string is passed over, not a broken manifest.
        let odd = oras_manifest(&[None]).replace(
            r#""size":5}"#,
            r#""size":5,"annotations":{"org.opencontainers.image.title":7,"x":[1]}}"#,
        );
        assert!(parse(odd.as_bytes(), "r").unwrap_err().contains("no title"));
    }

    #[test]
    fn titles_that_are_missing_not_wasm_or_ambiguous_are_refused() {
        let err = |titles: &[Option<&str>]| {
            parse(
                oras_manifest(titles).as_bytes(),
                "localhost:5000/acme/widget:1.0.0",
            )
            .unwrap_err()
        };
        expect![[r#"`localhost:5000/acme/widget:1.0.0` is not a Wasm package: its one layer has no Wasm media type (application/vnd.oci.image.layer.v1.tar) and no title naming a `.wasm` file"#]]
            .assert_eq(&err(&[None]));
        expect![[r#"`localhost:5000/acme/widget:1.0.0` is not a Wasm package: its one layer has no Wasm media type (application/vnd.oci.image.layer.v1.tar) and its title "widget.wasm.tar\u{1b}[31m" does not name a `.wasm` file"#]]
            .assert_eq(&err(&[Some("widget.wasm.tar\u{1b}[31m")]));
        expect![[r#"`localhost:5000/acme/widget:1.0.0` is not a Wasm package: no layer has a Wasm media type (its layers are application/vnd.oci.image.layer.v1.tar, application/vnd.oci.image.layer.v1.tar)"#]]
            .assert_eq(&err(&[Some("widget.wasm"), Some("other.wasm")]));
        let long = format!("{}.tar", "x".repeat(500));
        assert!(err(&[Some(&long)]).contains(&format!("\"{}...\"", "x".repeat(100))));
    }

    #[test]
    fn an_index_leads_to_its_wasm_manifest() {
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
                {{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{}","size":5,"platform":{{"os":"linux","architecture":"amd64"}}}},
                {{"mediaType":"{OCI_MANIFEST}","digest":"{DIGEST}","size":5,"platform":{{"os":"wasip2","architecture":"wasm"}}}}]}}"#,
            "0".repeat(64)
        );
        assert_eq!(
            parse(index.as_bytes(), "r").unwrap(),
            Parsed::Index {
                manifest: DIGEST.to_owned()
            }
        );
    }
}
