//! One pass of `wasmparser` over a file: what the outermost module or
//! component is, a core module's imports and exports, the guest SDK's
//! portable-mode mark, and the absolute paths its data mentions.

use std::ops::Range;

use wasmparser::{Parser, Payload, TypeRef};

use super::paths::Paths;

/// The custom section the guest SDK's portable mode writes; its contents
/// are the text `wasm-otel-guest <version>`.
pub const PORTABLE_SECTION: &str = "wasm-otel-portable";

/// The longest portable-mode mark kept, in characters.
const MAX_MARK: usize = 100;

/// What one parse found.
#[derive(Debug, Default)]
pub struct Parsed {
    /// A core module's imports, in order; empty for a component.
    pub imports: Vec<CoreImport>,
    /// A core module's exports, in order; empty for a component.
    pub exports: Vec<CoreItem>,
    /// The text of the portable-mode section, from any nested module.
    pub portable: Option<String>,
    /// Directories named by absolute paths in data segments.
    pub paths: Paths,
    /// Where the core modules nested in a component lie in the file.
    pub nested_modules: Vec<Range<usize>>,
}

/// One import of a core module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreImport {
    /// The module it is imported from, such as `wasi_snapshot_preview1`.
    pub module: String,
    /// The item imported.
    pub item: CoreItem,
}

/// A named item of a core module, with its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreItem {
    /// Its name.
    pub name: String,
    /// `func`, `memory`, `table`, `global` or `tag`.
    pub kind: &'static str,
}

/// Parses `bytes`, which must start with the WebAssembly magic number.
pub fn parse(bytes: &[u8]) -> wasmparser::Result<Parsed> {
    let mut parsed = Parsed::default();

    // Nested modules and components come as payloads of their own, each
    // opened by `Version` and closed by `End`; the outermost is depth 1.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ImportSection(section) if depth == 1 => {
                for import in section.into_imports() {
                    let import = import?;
                    parsed.imports.push(CoreImport {
                        module: import.module.to_owned(),
                        item: item(import.name, type_kind(import.ty)),
                    });
                }
            }
            Payload::ExportSection(section) if depth == 1 => {
                for export in section {
                    let export = export?;
                    let kind = export_kind(export.kind);
                    parsed.exports.push(item(export.name, kind));
                }
            }
            Payload::CustomSection(section) if section.name() == PORTABLE_SECTION => {
                parsed.portable.get_or_insert_with(|| mark(section.data()));
            }
            Payload::ModuleSection {
                unchecked_range, ..
            } => parsed.nested_modules.push(unchecked_range),
            Payload::DataSection(section) => {
                for data in section {
                    parsed.paths.scan(data?.data);
                }
            }
            _ => {}
        }
    }
    Ok(parsed)
}

fn item(name: &str, kind: &'static str) -> CoreItem {
    CoreItem {
        name: name.to_owned(),
        kind,
    }
}

/// The portable-mode mark as text: one line, clipped.
fn mark(data: &[u8]) -> String {
    String::from_utf8_lossy(data)
        .trim()
        .chars()
        .take(MAX_MARK)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn type_kind(ty: TypeRef) -> &'static str {
    match ty {
        TypeRef::Func(_) | TypeRef::FuncExact(_) => "func",
        TypeRef::Table(_) => "table",
        TypeRef::Memory(_) => "memory",
        TypeRef::Global(_) => "global",
        TypeRef::Tag(_) => "tag",
    }
}

fn export_kind(kind: wasmparser::ExternalKind) -> &'static str {
    use wasmparser::ExternalKind;

    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => "func",
        ExternalKind::Table => "table",
        ExternalKind::Memory => "memory",
        ExternalKind::Global => "global",
        ExternalKind::Tag => "tag",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_imports_exports_and_the_portable_mark() {
        let bytes = wat::parse_str(
            r#"(module
                 (import "env" "f" (func))
                 (import "env" "mem" (memory 1))
                 (func (export "_start"))
                 (@custom "wasm-otel-portable" "wasm-otel-guest 0.1.0\n"))"#,
        )
        .unwrap();
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.imports.len(), 2);
        assert_eq!(parsed.imports[1].item, item("mem", "memory"));
        assert_eq!(parsed.exports, [item("_start", "func")]);
        assert_eq!(parsed.portable.as_deref(), Some("wasm-otel-guest 0.1.0"));
    }

    #[test]
    fn the_imports_of_nested_modules_are_not_the_components() {
        let bytes = wat::parse_str(
            r#"(component
                 (core module (import "env" "f" (func))
                   (memory 1) (data (i32.const 0) "\00/srv/app/config.toml\00")))"#,
        )
        .unwrap();
        let parsed = parse(&bytes).unwrap();
        assert!(parsed.imports.is_empty());
        assert_eq!(parsed.paths.list(), ["/srv/app"]);
        let nested = &bytes[parsed.nested_modules[0].clone()];
        assert!(Parser::is_core_wasm(nested));
    }
}
