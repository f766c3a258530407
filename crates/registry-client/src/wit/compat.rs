//! Whether a new release of a WIT package keeps what the previous one in its major line
//! promised: every interface, type, function and world item of the old release is still
//! there, with the same shape. Additions are fine; removals and changes are not.
//!
//! Shapes are compared after dropping package versions, so an item that now refers to
//! `wasi:io/streams@0.2.1` instead of `@0.2.0` is unchanged. Named types are compared by
//! name where they are used and by definition where they are defined.

use std::fmt;

use registry_core::Error;
use wit_parser::{
    Function, Handle, InterfaceId, PackageId, Resolve, Type, TypeDefKind, TypeId, TypeOwner,
    WorldItem, WorldKey,
};

/// One item of the previous release that the new one removes or changes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Incompatibility {
    /// The item, e.g. `interface types`, `function types.[method]fields.get`.
    pub item: String,
    /// Its shape in the previous release.
    pub was: String,
    /// Its shape in the new release; `None` when it was removed.
    pub now: Option<String>,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.now {
            None => write!(f, "{} was removed", self.item),
            Some(now) => write!(f, "{} changed from `{}` to `{now}`", self.item, self.was),
        }
    }
}

fn decode(bytes: &[u8], what: &str) -> Result<(Resolve, PackageId), Error> {
    match wit_parser::decoding::decode(bytes) {
        Ok(wit_parser::decoding::DecodedWasm::WitPackage(resolve, id)) => Ok((resolve, id)),
        Ok(_) => Err(Error::InvalidInput {
            message: format!("{what} is a component, not a WIT package"),
        }),
        Err(err) => Err(Error::InvalidInput {
            message: format!("{what} is not a WIT package: {err:#}"),
        }),
    }
}

/// What the new WIT package (`new`) removes or changes from the previous one
/// (`previous`); empty when it is a compatible successor.
///
/// # Errors
/// [`Error::InvalidInput`] when either is not a binary WIT package.
pub fn incompatibilities(previous: &[u8], new: &[u8]) -> Result<Vec<Incompatibility>, Error> {
    let (old, old_id) = decode(previous, "the previous release")?;
    let (new, new_id) = decode(new, "the new release")?;
    let mut found = Vec::new();
    let (old_pkg, new_pkg) = (&old.packages[old_id], &new.packages[new_id]);
    for (name, &old_iface) in &old_pkg.interfaces {
        let item = format!("interface {name}");
        let Some(&new_iface) = new_pkg.interfaces.get(name) else {
            found.push(removed(item, "interface".into()));
            continue;
        };
        compare_interface(name, (&old, old_iface), (&new, new_iface), &mut found);
    }
    for (name, &old_world) in &old_pkg.worlds {
        let item = format!("world {name}");
        let Some(&new_world) = new_pkg.worlds.get(name) else {
            found.push(removed(item, "world".into()));
            continue;
        };
        let (ow, nw) = (&old.worlds[old_world], &new.worlds[new_world]);
        for (direction, old_items, new_items) in [
            ("import", &ow.imports, &nw.imports),
            ("export", &ow.exports, &nw.exports),
        ] {
            for (key, old_item) in old_items {
                let label = key_name(&old, key);
                let item = format!("world {name}: {direction} {label}");
                let was = world_item(&old, old_item);
                let now = new_items
                    .iter()
                    .find(|(k, _)| key_name(&new, k) == label)
                    .map(|(_, i)| world_item(&new, i));
                match now {
                    None => found.push(removed(item, was)),
                    Some(now) if now != was => found.push(changed(item, was, now)),
                    Some(_) => {}
                }
            }
        }
    }
    Ok(found)
}

fn removed(item: String, was: String) -> Incompatibility {
    Incompatibility {
        item,
        was,
        now: None,
    }
}

fn changed(item: String, was: String, now: String) -> Incompatibility {
    Incompatibility {
        item,
        was,
        now: Some(now),
    }
}

fn compare_interface(
    name: &str,
    (old, old_id): (&Resolve, InterfaceId),
    (new, new_id): (&Resolve, InterfaceId),
    found: &mut Vec<Incompatibility>,
) {
    let (oi, ni) = (&old.interfaces[old_id], &new.interfaces[new_id]);
    for (type_name, &old_ty) in &oi.types {
        let item = format!("type {name}.{type_name}");
        let was = definition(old, old_ty);
        match ni.types.get(type_name) {
            None => found.push(removed(item, was)),
            Some(&new_ty) => {
                let now = definition(new, new_ty);
                if now != was {
                    found.push(changed(item, was, now));
                }
            }
        }
    }
    for (func_name, old_func) in &oi.functions {
        let item = format!("function {name}.{func_name}");
        let was = signature(old, old_func);
        match ni.functions.get(func_name) {
            None => found.push(removed(item, was)),
            Some(new_func) => {
                let now = signature(new, new_func);
                if now != was {
                    found.push(changed(item, was, now));
                }
            }
        }
    }
}

/// An interface's name without its package version: `wasi:io/streams`.
fn interface_name(resolve: &Resolve, id: InterfaceId) -> String {
    let iface = &resolve.interfaces[id];
    let name = iface.name.as_deref().unwrap_or("<anonymous>");
    match iface.package {
        Some(pkg) => {
            let p = &resolve.packages[pkg].name;
            format!("{}:{}/{name}", p.namespace, p.name)
        }
        None => name.to_owned(),
    }
}

fn key_name(resolve: &Resolve, key: &WorldKey) -> String {
    match key {
        WorldKey::Name(name) => name.clone(),
        WorldKey::Interface(id) => interface_name(resolve, *id),
    }
}

fn world_item(resolve: &Resolve, item: &WorldItem) -> String {
    match item {
        WorldItem::Interface { id, .. } => format!("interface {}", interface_name(resolve, *id)),
        WorldItem::Function(func) => signature(resolve, func),
        WorldItem::Type { id, .. } => definition(resolve, *id),
    }
}

fn signature(resolve: &Resolve, func: &Function) -> String {
    let params: Vec<String> = func
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, type_ref(resolve, &p.ty)))
        .collect();
    let async_ = if func.kind.is_async() { "async " } else { "" };
    match &func.result {
        Some(result) => format!(
            "{async_}func({}) -> {}",
            params.join(", "),
            type_ref(resolve, result)
        ),
        None => format!("{async_}func({})", params.join(", ")),
    }
}

/// A type where it is used: named types by name, anonymous ones by shape.
fn type_ref(resolve: &Resolve, ty: &Type) -> String {
    match ty {
        Type::Id(id) => {
            let def = &resolve.types[*id];
            match (&def.name, def.owner) {
                (Some(name), TypeOwner::Interface(iface)) => {
                    format!("{}.{name}", interface_name(resolve, iface))
                }
                (Some(name), _) => name.clone(),
                (None, _) => shape(resolve, *id),
            }
        }
        Type::Bool => "bool".into(),
        Type::U8 => "u8".into(),
        Type::U16 => "u16".into(),
        Type::U32 => "u32".into(),
        Type::U64 => "u64".into(),
        Type::S8 => "s8".into(),
        Type::S16 => "s16".into(),
        Type::S32 => "s32".into(),
        Type::S64 => "s64".into(),
        Type::F32 => "f32".into(),
        Type::F64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::ErrorContext => "error-context".into(),
    }
}

fn opt_ref(resolve: &Resolve, ty: Option<&Type>) -> String {
    ty.map_or_else(|| "_".to_owned(), |t| type_ref(resolve, t))
}

/// A type where it is defined: its full shape.
fn definition(resolve: &Resolve, id: TypeId) -> String {
    shape(resolve, id)
}

fn shape(resolve: &Resolve, id: TypeId) -> String {
    let r = |t: &Type| type_ref(resolve, t);
    match &resolve.types[id].kind {
        TypeDefKind::Record(record) => {
            let fields: Vec<String> = record
                .fields
                .iter()
                .map(|f| format!("{}: {}", f.name, r(&f.ty)))
                .collect();
            format!("record {{ {} }}", fields.join(", "))
        }
        TypeDefKind::Resource => "resource".into(),
        TypeDefKind::Handle(Handle::Own(t)) => format!("own<{}>", r(&Type::Id(*t))),
        TypeDefKind::Handle(Handle::Borrow(t)) => format!("borrow<{}>", r(&Type::Id(*t))),
        TypeDefKind::Flags(flags) => {
            let names: Vec<&str> = flags.flags.iter().map(|f| f.name.as_str()).collect();
            format!("flags {{ {} }}", names.join(", "))
        }
        TypeDefKind::Tuple(tuple) => {
            let types: Vec<String> = tuple.types.iter().map(r).collect();
            format!("tuple<{}>", types.join(", "))
        }
        TypeDefKind::Variant(variant) => {
            let cases: Vec<String> = variant
                .cases
                .iter()
                .map(|c| match &c.ty {
                    Some(t) => format!("{}({})", c.name, r(t)),
                    None => c.name.clone(),
                })
                .collect();
            format!("variant {{ {} }}", cases.join(", "))
        }
        TypeDefKind::Enum(e) => {
            let cases: Vec<&str> = e.cases.iter().map(|c| c.name.as_str()).collect();
            format!("enum {{ {} }}", cases.join(", "))
        }
        TypeDefKind::Option(t) => format!("option<{}>", r(t)),
        TypeDefKind::Result(result) => format!(
            "result<{}, {}>",
            opt_ref(resolve, result.ok.as_ref()),
            opt_ref(resolve, result.err.as_ref())
        ),
        TypeDefKind::List(t) => format!("list<{}>", r(t)),
        TypeDefKind::Map(k, v) => format!("map<{}, {}>", r(k), r(v)),
        TypeDefKind::FixedLengthList(t, n) => format!("list<{}, {n}>", r(t)),
        TypeDefKind::Future(t) => format!("future<{}>", opt_ref(resolve, t.as_ref())),
        TypeDefKind::Stream(t) => format!("stream<{}>", opt_ref(resolve, t.as_ref())),
        TypeDefKind::Type(t) => format!("type {}", r(t)),
        TypeDefKind::Unknown => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(wit: &str) -> Vec<u8> {
        let mut resolve = Resolve::default();
        let id = resolve.push_str("test.wit", wit).unwrap();
        wit_component::encode(&resolve, id, false).unwrap()
    }

    const V1: &str = "package acme:api@1.0.0;
        interface store {
            record entry { key: string, value: list<u8> }
            get: func(key: string) -> option<entry>;
            put: func(e: entry);
        }
        world app { import store; export run: func(); }";

    #[test]
    fn additions_are_compatible() {
        let v2 = "package acme:api@1.1.0;
            interface store {
                record entry { key: string, value: list<u8> }
                get: func(key: string) -> option<entry>;
                put: func(e: entry);
                delete: func(key: string);
            }
            interface extra { ping: func(); }
            world app { import store; import extra; export run: func(); }";
        assert_eq!(
            incompatibilities(&package(V1), &package(v2)).unwrap(),
            vec![]
        );
    }

    #[test]
    fn removals_and_changes_are_named() {
        let v2 = "package acme:api@1.1.0;
            interface store {
                record entry { key: string, value: string }
                get: func(key: string) -> option<entry>;
            }
            world app { import store; export run: func(verbose: bool); }";
        let found: Vec<String> = incompatibilities(&package(V1), &package(v2))
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            vec![
                "type store.entry changed from `record { key: string, value: list<u8> }` to \
                 `record { key: string, value: string }`",
                "function store.put was removed",
                "world app: export run changed from `func()` to `func(verbose: bool)`",
            ]
        );
    }
}
