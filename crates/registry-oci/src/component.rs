//! What a component says about itself, read from a file in constant memory.
//!
//! Only the top-level sections are visited: import and export sections (small) are read,
//! the metadata custom sections are read, and everything else, nested modules included, is
//! skipped with a seek, so a 256 MiB component costs a few reads.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

use crate::manifest::ComponentConfig;

/// Custom sections that carry package metadata, and the OCI annotation each becomes.
pub const METADATA_ANNOTATIONS: &[(&str, &str)] = &[
    ("description", "org.opencontainers.image.description"),
    ("authors", "org.opencontainers.image.authors"),
    ("licenses", "org.opencontainers.image.licenses"),
    ("source", "org.opencontainers.image.source"),
    ("homepage", "org.opencontainers.image.url"),
    ("revision", "org.opencontainers.image.revision"),
    ("version", "org.opencontainers.image.version"),
];

/// The largest import, export or metadata section read into memory.
const SECTION_MAX: u64 = 16 * 1024 * 1024;

/// What publishing needs to know about a Wasm binary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WasmInfo {
    /// Whether it is a component (as opposed to a core module).
    pub is_component: bool,
    /// Imports and exports (empty for a core module).
    pub component: ComponentConfig,
    /// OCI annotations from its metadata custom sections.
    pub annotations: BTreeMap<String, String>,
    /// The component's own name, from its `component-name` section (what
    /// `wasm-tools metadata add --name` writes), if it has one.
    pub name: Option<String>,
}

/// Reads `reader` (positioned at the start of a Wasm binary) section by section.
///
/// # Errors
/// A sentence saying why the content is not a Wasm binary.
pub fn inspect(reader: &mut (impl Read + Seek)) -> Result<WasmInfo, String> {
    let mut header = [0u8; 8];
    reader
        .read_exact(&mut header)
        .map_err(|_| "the content is shorter than a Wasm header (8 bytes)".to_owned())?;
    if &header[..4] != b"\0asm" {
        return Err("the content is not WebAssembly: it does not start with `\\0asm`".to_owned());
    }
    let is_component = header[6] == 1;
    let mut info = WasmInfo {
        is_component,
        ..WasmInfo::default()
    };
    loop {
        let mut id = [0u8; 1];
        match reader.read(&mut id) {
            Ok(0) => break,
            Ok(_) => {}
            Err(err) => return Err(format!("reading the content failed: {err}")),
        }
        let size = read_leb_u32(reader)?;
        match (is_component, id[0]) {
            // Custom section, in modules and components alike.
            (_, 0) => read_custom(reader, u64::from(size), &mut info)?,
            // Component import and export sections.
            (true, 10 | 11) => {
                let data = read_section(reader, size)?;
                let names = extern_names(&data, id[0] == 10)?;
                if id[0] == 10 {
                    info.component.imports.extend(names);
                } else {
                    info.component.exports.extend(names);
                }
            }
            _ => {
                reader
                    .seek(SeekFrom::Current(i64::from(size)))
                    .map_err(|err| format!("skipping a section failed: {err}"))?;
            }
        }
    }
    Ok(info)
}

fn read_leb_u32(reader: &mut impl Read) -> Result<u32, String> {
    let mut result = 0u32;
    for shift in (0..35).step_by(7) {
        let mut byte = [0u8; 1];
        reader
            .read_exact(&mut byte)
            .map_err(|_| "the content ends inside a section header".to_owned())?;
        result |= u32::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(result);
        }
    }
    Err("a section size is not a valid LEB128 number".to_owned())
}

fn read_section(reader: &mut impl Read, size: u32) -> Result<Vec<u8>, String> {
    if u64::from(size) > SECTION_MAX {
        return Err(format!("a section of {size} bytes is too large to inspect"));
    }
    let mut data = vec![0; size as usize];
    reader
        .read_exact(&mut data)
        .map_err(|_| "the content ends inside a section".to_owned())?;
    Ok(data)
}

fn read_custom(
    reader: &mut (impl Read + Seek),
    size: u64,
    info: &mut WasmInfo,
) -> Result<(), String> {
    let start = reader
        .stream_position()
        .map_err(|err| format!("reading the content failed: {err}"))?;
    let name_len = read_leb_u32(reader)?;
    let header_len = reader.stream_position().map_err(|e| e.to_string())? - start;
    let name = String::from_utf8(read_section(reader, name_len)?)
        .map_err(|_| "a custom section name is not UTF-8".to_owned())?;
    let body_len = size
        .checked_sub(header_len + u64::from(name_len))
        .ok_or("a custom section is shorter than its name")?;
    match METADATA_ANNOTATIONS
        .iter()
        .find(|(section, _)| *section == name)
    {
        Some((_, annotation)) if body_len <= SECTION_MAX => {
            let body = read_section(reader, body_len as u32)?;
            if let Ok(text) = String::from_utf8(body) {
                info.annotations.insert((*annotation).to_owned(), text);
            }
        }
        _ if name == "component-name" && info.is_component && body_len <= SECTION_MAX => {
            let body = read_section(reader, body_len as u32)?;
            info.name = component_name(&body);
        }
        _ => {
            reader
                .seek(SeekFrom::Current(body_len as i64))
                .map_err(|err| format!("skipping a section failed: {err}"))?;
        }
    }
    Ok(())
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

fn extern_names(data: &[u8], imports: bool) -> Result<Vec<String>, String> {
    let reader = wasmparser::BinaryReader::new(data, 0);
    let err = |e: wasmparser::BinaryReaderError| format!("a component section is malformed: {e}");
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
