//! Wasm components generated for tests.

use std::path::{Path, PathBuf};
use wasm_encoder::{
    Component, ComponentExportKind, ComponentExportSection, ComponentImportSection,
    ComponentTypeRef, ComponentTypeSection, CustomSection, InstanceType,
};

/// What a generated component imports, exports and says about itself.
#[derive(Clone, Debug, Default)]
pub struct Spec<'a> {
    /// Interface names imported, each as an empty instance, e.g. `wasi:cli/environment@0.2.0`.
    pub imports: &'a [&'a str],
    /// Interface names exported; each re-exports an imported instance, so there must be at
    /// least as many imports as exports.
    pub exports: &'a [&'a str],
    /// Custom metadata sections (`description`, `authors`, `licenses`, `source`,
    /// `homepage`, `revision`, `version`) as `(name, text)`.
    pub metadata: &'a [(&'a str, &'a str)],
    /// Extra bytes in a custom section named `padding`, to make the component larger.
    pub padding: usize,
    /// The component's own name, in a `component-name` section (as `wasm-tools metadata
    /// add --name` writes it).
    pub name: Option<&'a str>,
}

/// Builds a valid component from `spec`.
///
/// # Panics
/// If there are more exports than imports.
pub fn build(spec: &Spec<'_>) -> Vec<u8> {
    assert!(
        spec.exports.len() <= spec.imports.len(),
        "each export re-exports an import"
    );
    let mut component = Component::new();
    if !spec.imports.is_empty() {
        let mut types = ComponentTypeSection::new();
        types.instance(&InstanceType::new());
        component.section(&types);
        let mut imports = ComponentImportSection::new();
        for name in spec.imports {
            imports.import(*name, ComponentTypeRef::Instance(0));
        }
        component.section(&imports);
    }
    if !spec.exports.is_empty() {
        let mut exports = ComponentExportSection::new();
        for (index, name) in spec.exports.iter().enumerate() {
            let index = u32::try_from(index).expect("few exports");
            exports.export(*name, ComponentExportKind::Instance, index, None);
        }
        component.section(&exports);
    }
    for (name, text) in spec.metadata {
        component.section(&CustomSection {
            name: (*name).into(),
            data: text.as_bytes().into(),
        });
    }
    if let Some(name) = spec.name {
        let mut names = wasm_encoder::ComponentNameSection::new();
        names.component(name);
        component.section(&names);
    }
    if spec.padding > 0 {
        component.section(&CustomSection {
            name: "padding".into(),
            data: vec![0x5a; spec.padding].into(),
        });
    }
    let bytes = component.finish();
    validate(&bytes);
    bytes
}

/// A small component whose bytes differ with `seed`.
pub fn small(seed: &str) -> Vec<u8> {
    build(&Spec {
        imports: &["wasi:cli/environment@0.2.0"],
        exports: &[],
        metadata: &[("description", seed)],
        padding: 0,
        name: None,
    })
}

/// Checks that `bytes` is a valid component.
///
/// # Panics
/// If it is not.
pub fn validate(bytes: &[u8]) {
    let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
    validator.validate_all(bytes).expect("a valid component");
}

/// A directory registry in `dir` holding a small component for each `(package, version)`
/// (laid out as `<root>/<ns>/<name>/<version>.wasm`, the layout of wkg's local registries),
/// and a user config file that makes it the default registry `registry`; returns the config
/// file's path. For
/// examples that need packages to resolve and no server.
///
/// # Panics
/// On an I/O error.
pub fn directory_registry(dir: &Path, registry: &str, releases: &[(&str, &str)]) -> PathBuf {
    let root = dir.join("registry");
    for (package, version) in releases {
        let (namespace, name) = package.split_once(':').expect("ns:name");
        let at = root.join(namespace).join(name);
        std::fs::create_dir_all(&at).expect("create the package directory");
        let bytes = small(&format!("{package}@{version}"));
        std::fs::write(at.join(format!("{version}.wasm")), bytes).expect("write a release");
    }
    let config = dir.join("config.toml");
    let text = format!(
        "default_registry = {registry:?}\n[registry.{registry:?}.local]\nroot = {:?}\n",
        root.display().to_string()
    );
    std::fs::write(&config, text).expect("write the config file");
    config
}
