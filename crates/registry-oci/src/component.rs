//! What OCI makes of a component's own metadata: `org.opencontainers.image.*` annotations.
//!
//! The metadata is read protocol-neutrally by [`registry_core::metadata`]; this module only
//! says which annotation each field becomes.

use std::collections::BTreeMap;

use registry_core::metadata::{MetadataField, WasmMetadata};

/// The OCI annotation a metadata field becomes (`None` for a field OCI has no key for).
pub fn annotation_key(field: MetadataField) -> Option<&'static str> {
    Some(match field {
        MetadataField::Description => "org.opencontainers.image.description",
        MetadataField::Authors => "org.opencontainers.image.authors",
        MetadataField::Licenses => "org.opencontainers.image.licenses",
        MetadataField::Source => "org.opencontainers.image.source",
        MetadataField::Homepage => "org.opencontainers.image.url",
        MetadataField::Revision => "org.opencontainers.image.revision",
        MetadataField::Version => "org.opencontainers.image.version",
        _ => return None,
    })
}

/// The annotations a component's metadata sections give.
pub fn annotations(meta: &WasmMetadata) -> BTreeMap<String, String> {
    meta.fields
        .iter()
        .filter_map(|(field, text)| Some((annotation_key(*field)?.to_owned(), text.clone())))
        .collect()
}
