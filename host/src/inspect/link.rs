//! Whether the host's own linkers, those `run` uses, provide every import
//! of a guest, checked without compiling the guest's code.
//!
//! A core module is checked through stand-ins that keep its types and its
//! imports and nothing else. A component, given or made from a core
//! module, is checked through a copy whose every function body is
//! `unreachable`: Wasmtime compiles those, and the glue between the
//! component's parts, in a fraction of the time the real code would take.

use std::collections::HashMap;

use wasm_encoder::reencode::{self, Reencode, ReencodeComponent, RoundtripReencoder};
use wasmparser::{Parser, Payload};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, LinkerInstance, ResourceType};
use wasmtime::{Engine, Module};

use crate::run;

/// An import the host does not provide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The import: `module::name` for a core module, the interface or
    /// function name for a component.
    pub name: String,
    /// Wasmtime's account of what is missing or does not match.
    pub reason: String,
}

/// A component's imports and exports, as Wasmtime reads them.
#[derive(Debug, Clone, Default)]
pub struct ComponentShape {
    /// Each import, with the functions it holds when it is an instance.
    pub imports: Vec<(String, Vec<String>)>,
    /// The names of its exports.
    pub exports: Vec<String>,
}

/// The core module's imports the preview-1 linker lacks or types
/// otherwise, each named.
pub fn check_module(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<Unknown>> {
    let linker = run::module_linker(engine)?;
    let names = import_names(bytes)?;

    // One stand-in with every import settles the usual case; only when it
    // fails is each import tried alone, to name every one that is missing.
    let all = Module::new(engine, imports_only(bytes, None)?)?;
    if linker.instantiate_pre(&all).is_ok() {
        return Ok(Vec::new());
    }
    let mut unknown = Vec::new();
    for (index, name) in names.into_iter().enumerate() {
        let one = Module::new(engine, imports_only(bytes, Some(index))?)?;
        if let Err(err) = linker.instantiate_pre(&one) {
            let reason = cause(&err);
            unknown.push(Unknown { name, reason });
        }
    }
    Ok(unknown)
}

/// Every import of a core module, as `module::name`.
fn import_names(bytes: &[u8]) -> wasmtime::Result<Vec<String>> {
    let mut names = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import?;
                    names.push(format!("{}::{}", import.module, import.name));
                }
            }
            Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    Ok(names)
}

/// A module with the types of `bytes` and its imports (or only the one at
/// `only`), and nothing else.
fn imports_only(bytes: &[u8], only: Option<usize>) -> wasmtime::Result<Vec<u8>> {
    let mut types = wasm_encoder::TypeSection::new();
    let mut imports = wasm_encoder::ImportSection::new();
    let mut index = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::TypeSection(section) => {
                RoundtripReencoder
                    .parse_type_section(&mut types, section)
                    .map_err(reencode_error)?;
            }
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import?;
                    if only.is_none_or(|only| only == index) {
                        let ty = RoundtripReencoder
                            .entity_type(import.ty)
                            .map_err(reencode_error)?;
                        imports.import(import.module, import.name, ty);
                    }
                    index += 1;
                }
            }
            Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    let mut module = wasm_encoder::Module::new();
    module.section(&types).section(&imports);
    Ok(module.finish())
}

/// A component's shape and the imports the preview-2 and `wasi:otel`
/// linker does not provide, each named.
pub fn check_component(
    engine: &Engine,
    bytes: &[u8],
) -> wasmtime::Result<(ComponentShape, Vec<Unknown>)> {
    let component = Component::new(engine, stub_component(bytes)?)?;
    let ty = component.component_type();
    let shape = ComponentShape {
        imports: ty
            .imports(engine)
            .map(|(name, item)| (name.to_owned(), functions(engine, &item.ty)))
            .collect(),
        exports: ty
            .exports(engine)
            .map(|(name, _)| name.to_owned())
            .collect(),
    };
    let unknown = unknown_imports(engine, &component, &shape)?;
    Ok((shape, unknown))
}

/// The functions an import holds: itself when it is one, its own
/// functions when it is an instance.
fn functions(engine: &Engine, item: &ComponentItem) -> Vec<String> {
    match item {
        ComponentItem::ComponentInstance(instance) => instance
            .exports(engine)
            .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
            .map(|(name, _)| name.to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

/// Wasmtime stops at the first import it cannot satisfy. Each one it
/// names is recorded, then stood in for with functions that trap (and,
/// if that is not enough, with resources of its own), and the check is
/// repeated, so that every missing import is named. An import that even
/// stand-ins do not satisfy ends the check, leaving later ones unchecked.
fn unknown_imports(
    engine: &Engine,
    component: &Component,
    shape: &ComponentShape,
) -> wasmtime::Result<Vec<Unknown>> {
    let mut linker = run::component_linker(engine)?;
    linker.allow_shadowing(true);
    let ty = component.component_type();
    let mut tries: HashMap<String, u8> = HashMap::new();
    let mut unknown = Vec::new();
    while let Err(err) = linker.instantiate_pre(component) {
        let Some((name, item)) = culprit(engine, &ty, shape, &err) else {
            unknown.push(Unknown {
                name: "(unnamed)".to_owned(),
                reason: format!("{err:#}"),
            });
            break;
        };
        let tried = tries.entry(name.clone()).or_default();
        *tried += 1;
        if *tried == 1 {
            let reason = cause(&err);
            let name = name.clone();
            unknown.push(Unknown { name, reason });
        } else if *tried > 2 {
            break;
        }
        let resources = *tried == 2;
        stand_in(engine, &mut linker.root(), &name, &item, resources)?;
    }
    Ok(unknown)
}

/// The import Wasmtime's error names, with its type.
fn culprit(
    engine: &Engine,
    ty: &wasmtime::component::types::Component,
    shape: &ComponentShape,
    err: &wasmtime::Error,
) -> Option<(String, ComponentItem)> {
    let said = err.to_string();
    let (name, _) = shape
        .imports
        .iter()
        .find(|(name, _)| said.contains(&format!("`{name}`")))?;
    let item = ty.get_import(engine, name)?.ty;
    Some((name.clone(), item))
}

/// What Wasmtime says beyond naming the import.
fn cause(err: &wasmtime::Error) -> String {
    let causes: Vec<String> = err.chain().skip(1).map(|e| e.to_string()).collect();
    if causes.is_empty() {
        "the host does not provide it".to_owned()
    } else {
        causes.join(": ")
    }
}

/// Defines `name` in `linker` as functions that would trap, and, when
/// `resources` is set, resources of the host's own.
fn stand_in<T: 'static>(
    engine: &Engine,
    linker: &mut LinkerInstance<'_, T>,
    name: &str,
    item: &ComponentItem,
    resources: bool,
) -> wasmtime::Result<()> {
    struct Standin;
    match item {
        ComponentItem::ComponentFunc(_) => linker.func_new(name, |_, _, _, _| {
            Err(wasmtime::format_err!("an import that was only inspected"))
        }),
        ComponentItem::ComponentInstance(instance) => {
            let mut inner = linker.instance(name)?;
            for (export, item) in instance.exports(engine) {
                stand_in(engine, &mut inner, export, &item.ty, resources)?;
            }
            Ok(())
        }
        ComponentItem::Resource(_) if resources => {
            linker.resource(name, ResourceType::host::<Standin>(), |_, _| Ok(()))
        }
        _ => Ok(()),
    }
}

/// The component with every function body of its core modules replaced
/// by `unreachable`.
fn stub_component(bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
    let mut out = wasm_encoder::Component::new();
    Unreachable
        .parse_component(&mut out, Parser::new(0), bytes)
        .map_err(reencode_error)?;
    Ok(out.finish())
}

/// Copies a component, emptying every function of its core modules.
struct Unreachable;

impl Reencode for Unreachable {
    type Error = std::convert::Infallible;

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        _func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        let mut body = wasm_encoder::Function::new([]);
        body.instructions().unreachable().end();
        code.function(&body);
        Ok(())
    }
}

impl ReencodeComponent for Unreachable {}

fn reencode_error(err: reencode::Error<std::convert::Infallible>) -> wasmtime::Error {
    wasmtime::format_err!("cannot read the file's structure: {err}")
}
