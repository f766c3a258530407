//! What a Wasm binary says about itself, read from a reader in constant memory.
//!
//! Only top-level sections are visited: the component import and export sections (small)
//! and the metadata custom sections (`version`, `description`, `authors`, ..., as
//! `wasm-tools metadata add` writes them, and `component-name`) are read; everything else,
//! nested modules included, is skipped with a seek, so a 256 MiB component costs a few
//! reads. Nothing here knows a registry protocol: OCI turns the result into annotations,
//! the command line reads a component's name and version from it.
//!
//! ```
//! use registry_core::metadata::WasmMetadata;
//!
//! // A core module with no sections says nothing about itself.
//! let module = b"\0asm\x01\0\0\0";
//! let meta = WasmMetadata::read(&mut std::io::Cursor::new(&module[..])).unwrap();
//! assert!(!meta.is_component);
//! assert_eq!(meta.version(), None);
//! ```

use std::io::{Read, Seek, SeekFrom};

use semver::Version;

/// The largest import, export or metadata section read into memory.
const SECTION_MAX: u64 = 16 * 1024 * 1024;

/// What a Wasm binary says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WasmMetadata {
    /// Whether it is a component (as opposed to a core module).
    pub is_component: bool,
    /// A component's import names, in order (empty for a core module).
    pub imports: Vec<String>,
    /// A component's export names, in order.
    pub exports: Vec<String>,
    /// A component's own name, from its `component-name` section (what
    /// `wasm-tools metadata add --name` writes).
    pub name: Option<String>,
    /// The text of each metadata custom section present, by section name (`version`,
    /// `description`, `authors`, `licenses`, `source`, `homepage`, `revision`).
    pub fields: Vec<(MetadataField, String)>,
}

/// The metadata custom sections that describe a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MetadataField {
    /// `description`.
    Description,
    /// `authors`.
    Authors,
    /// `licenses` (an SPDX expression).
    Licenses,
    /// `source` (a URL).
    Source,
    /// `homepage` (a URL).
    Homepage,
    /// `revision` (a VCS revision).
    Revision,
    /// `version`.
    Version,
}

impl MetadataField {
    /// Every field, in a stable order.
    pub const ALL: [MetadataField; 7] = [
        MetadataField::Description,
        MetadataField::Authors,
        MetadataField::Licenses,
        MetadataField::Source,
        MetadataField::Homepage,
        MetadataField::Revision,
        MetadataField::Version,
    ];

    /// The custom section's name.
    pub fn section(self) -> &'static str {
        match self {
            MetadataField::Description => "description",
            MetadataField::Authors => "authors",
            MetadataField::Licenses => "licenses",
            MetadataField::Source => "source",
            MetadataField::Homepage => "homepage",
            MetadataField::Revision => "revision",
            MetadataField::Version => "version",
        }
    }

    fn from_section(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.section() == name)
    }
}

/// Why a binary's metadata could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The content does not start with the Wasm magic number.
    #[error("the content is not WebAssembly: it does not start with `\\0asm`")]
    NotWasm,
    /// The content ends in the middle of something.
    #[error("the content ends inside {0}")]
    Truncated(&'static str),
    /// A section is malformed.
    #[error("{0}")]
    Malformed(String),
    /// A section that must be read is larger than [`SECTION_MAX`] (16 MiB).
    #[error("a section of {0} bytes is too large to inspect")]
    TooLarge(u64),
    /// Reading failed.
    #[error("reading the content failed: {0}")]
    Io(#[from] std::io::Error),
}

impl WasmMetadata {
    /// Reads `reader` (positioned at the start of a Wasm binary) section by section.
    ///
    /// # Errors
    /// A [`MetadataError`] saying why the content is not a readable Wasm binary.
    pub fn read(reader: &mut (impl Read + Seek)) -> Result<Self, MetadataError> {
        let mut header = [0u8; 8];
        reader
            .read_exact(&mut header)
            .map_err(|_| MetadataError::Truncated("the Wasm header (8 bytes)"))?;
        if &header[..4] != b"\0asm" {
            return Err(MetadataError::NotWasm);
        }
        let is_component = header[6] == 1;
        let mut meta = WasmMetadata {
            is_component,
            ..WasmMetadata::default()
        };
        loop {
            let mut id = [0u8; 1];
            if reader.read(&mut id)? == 0 {
                break;
            }
            let size = read_leb_u32(reader)?;
            match (is_component, id[0]) {
                // Custom section, in modules and components alike.
                (_, 0) => meta.read_custom(reader, u64::from(size))?,
                // Component import and export sections.
                (true, 10 | 11) => {
                    let data = read_section(reader, u64::from(size))?;
                    let names = extern_names(&data, id[0] == 10)?;
                    if id[0] == 10 {
                        meta.imports.extend(names);
                    } else {
                        meta.exports.extend(names);
                    }
                }
                _ => {
                    reader.seek(SeekFrom::Current(i64::from(size)))?;
                }
            }
        }
        Ok(meta)
    }

    /// The text of a metadata field, if the binary has it.
    pub fn field(&self, field: MetadataField) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, text)| text.as_str())
    }

    /// Sets a field, replacing what the binary said.
    pub fn set_field(&mut self, field: MetadataField, text: impl Into<String>) {
        self.fields.retain(|(f, _)| *f != field);
        self.fields.push((field, text.into()));
    }

    /// The version its `version` section names, if that is a valid semantic version.
    pub fn version(&self) -> Option<Version> {
        self.field(MetadataField::Version)
            .and_then(|v| Version::parse(v.trim()).ok())
    }

    fn read_custom(
        &mut self,
        reader: &mut (impl Read + Seek),
        size: u64,
    ) -> Result<(), MetadataError> {
        let start = reader.stream_position()?;
        let name_len = read_leb_u32(reader)?;
        let header_len = reader.stream_position()? - start;
        let name = String::from_utf8(read_section(reader, u64::from(name_len))?).map_err(|_| {
            MetadataError::Malformed("a custom section name is not UTF-8".to_owned())
        })?;
        let body_len = size
            .checked_sub(header_len + u64::from(name_len))
            .ok_or_else(|| {
                MetadataError::Malformed("a custom section is shorter than its name".to_owned())
            })?;
        let field = MetadataField::from_section(&name);
        let wanted = field.is_some() || (name == "component-name" && self.is_component);
        if !wanted || body_len > SECTION_MAX {
            reader.seek(SeekFrom::Current(body_len as i64))?;
            return Ok(());
        }
        let body = read_section(reader, body_len)?;
        match field {
            Some(field) => {
                // A section that is not text describes nothing; it is not a reason to refuse.
                if let Ok(text) = String::from_utf8(body) {
                    self.set_field(field, text);
                }
            }
            None => self.name = component_name(&body),
        }
        Ok(())
    }
}

fn read_leb_u32(reader: &mut impl Read) -> Result<u32, MetadataError> {
    let mut result = 0u32;
    for shift in (0..35).step_by(7) {
        let mut byte = [0u8; 1];
        reader
            .read_exact(&mut byte)
            .map_err(|_| MetadataError::Truncated("a section header"))?;
        result |= u32::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(result);
        }
    }
    Err(MetadataError::Malformed(
        "a section size is not a valid LEB128 number".to_owned(),
    ))
}

fn read_section(reader: &mut impl Read, size: u64) -> Result<Vec<u8>, MetadataError> {
    if size > SECTION_MAX {
        return Err(MetadataError::TooLarge(size));
    }
    let mut data = vec![0; size as usize];
    reader
        .read_exact(&mut data)
        .map_err(|_| MetadataError::Truncated("a section"))?;
    Ok(data)
}

/// The component's own name in a `component-name` section's body; a malformed section
/// names nothing (names are debugging information, not a reason to refuse a component).
fn component_name(body: &[u8]) -> Option<String> {
    let reader =
        wasmparser::ComponentNameSectionReader::new(wasmparser::BinaryReader::new(body, 0));
    reader.into_iter().find_map(|subsection| match subsection {
        Ok(wasmparser::ComponentName::Component { name, .. }) => Some(name.to_owned()),
        _ => None,
    })
}

fn extern_names(data: &[u8], imports: bool) -> Result<Vec<String>, MetadataError> {
    let reader = wasmparser::BinaryReader::new(data, 0);
    let err = |e: wasmparser::BinaryReaderError| {
        MetadataError::Malformed(format!("a component section is malformed: {e}"))
    };
    if imports {
        wasmparser::ComponentImportSectionReader::new(reader)
            .map_err(err)?
            .into_iter()
            .map(|import| import.map(|i| i.name.name.to_owned()).map_err(err))
            .collect()
    } else {
        wasmparser::ComponentExportSectionReader::new(reader)
            .map_err(err)?
            .into_iter()
            .map(|export| export.map(|e| e.name.name.to_owned()).map_err(err))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(name: &str, body: &[u8]) -> Vec<u8> {
        let mut payload = vec![name.len() as u8];
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(body);
        let mut section = vec![0, payload.len() as u8];
        section.extend(payload);
        section
    }

    #[test]
    fn reads_metadata_sections_of_a_module() {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend(custom("version", b"1.2.3"));
        wasm.extend(custom("description", b"a widget"));
        wasm.extend(custom("other", b"ignored"));
        let meta = WasmMetadata::read(&mut std::io::Cursor::new(wasm)).unwrap();
        assert!(!meta.is_component);
        assert_eq!(meta.version(), Some(Version::new(1, 2, 3)));
        assert_eq!(meta.field(MetadataField::Description), Some("a widget"));
        assert_eq!(meta.field(MetadataField::Licenses), None);
    }

    #[test]
    fn refuses_what_is_not_wasm_with_a_reason() {
        let err = WasmMetadata::read(&mut std::io::Cursor::new(b"hello world")).unwrap_err();
        assert!(matches!(err, MetadataError::NotWasm), "{err}");
        let err = WasmMetadata::read(&mut std::io::Cursor::new(b"\0asm")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the content ends inside the Wasm header (8 bytes)"
        );
        let mut cut = b"\0asm\x01\0\0\0".to_vec();
        cut.extend([0, 50, 3]);
        let err = WasmMetadata::read(&mut std::io::Cursor::new(cut)).unwrap_err();
        assert!(matches!(err, MetadataError::Truncated(_)), "{err}");
    }
}
