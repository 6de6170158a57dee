//! Keeping a wasip1 module's exit code when it becomes a component.
//!
//! The preview-1 command adapter turns `proc_exit(n)` into
//! `wasi:cli/exit.exit`, which can only say success or failure, so every
//! non-zero code would become 1. Before componentizing, the module's
//! `proc_exit` import is pointed at a second, tiny adapter that calls
//! `wasi:cli/exit.exit-with-code` with the code itself.

use wasm_encoder::reencode::{Error as ReencodeError, Reencode};
use wit_component::StringEncoding;

/// The module name the rerouted `proc_exit` import is given, and the name
/// of the adapter that provides it.
pub const ADAPTER_NAME: &str = "wasm_otel_proc_exit";

const PREVIEW1: &str = "wasi_snapshot_preview1";

/// The adapter, as WebAssembly text. Codes past 255 wrap, as a POSIX exit
/// status does.
const ADAPTER_WAT: &str = r#"
(module
  (import "wasi:cli/exit@0.2.12" "exit-with-code" (func $exit_with_code (param i32)))
  (func (export "proc_exit") (param $code i32)
    (call $exit_with_code (i32.and (local.get $code) (i32.const 255)))
    unreachable))
"#;

/// The WIT the adapter's metadata describes: `wasi:cli/exit` exactly as
/// the preview-1 adapter of this Wasmtime release declares it.
const CLI_EXIT_WIT: &str = r#"
package wasi:cli@0.2.12;

@since(version = 0.2.0)
interface exit {
  @since(version = 0.2.0)
  exit: func(status: result);

  @since(version = 0.2.12)
  exit-with-code: func(status-code: u8);
}
"#;

const ADAPTER_WORLD_WIT: &str = r#"
package wasm-otel:proc-exit;

world adapter {
  import wasi:cli/exit@0.2.12;
}
"#;

/// Returns the module with its `proc_exit` import rerouted, or `None` when
/// it does not import `proc_exit` at all.
pub fn reroute(module: &[u8]) -> wasmtime::Result<Option<Vec<u8>>> {
    let imports_proc_exit = wasmparser::Parser::new(0)
        .parse_all(module)
        .filter_map(|payload| match payload {
            Ok(wasmparser::Payload::ImportSection(section)) => Some(section),
            _ => None,
        })
        .flat_map(|section| section.into_imports())
        .any(|import| import.is_ok_and(|i| i.module == PREVIEW1 && i.name == "proc_exit"));
    if !imports_proc_exit {
        return Ok(None);
    }

    let mut out = wasm_encoder::Module::new();
    Reroute
        .parse_core_module(&mut out, wasmparser::Parser::new(0), module)
        .map_err(|err| wasmtime::format_err!("cannot rewrite the module's imports: {err}"))?;
    Ok(Some(out.finish()))
}

/// The adapter module, with the metadata wit-component needs.
pub fn adapter() -> wasmtime::Result<Vec<u8>> {
    let mut resolve = wit_parser::Resolve::default();
    let build = |resolve: &mut wit_parser::Resolve| -> anyhow::Result<Vec<u8>> {
        resolve.push_str("cli.wit", CLI_EXIT_WIT)?;
        let package = resolve.push_str("adapter.wit", ADAPTER_WORLD_WIT)?;
        let world = resolve.select_world(&[package], Some("adapter"))?;
        let mut bytes = wat::parse_str(ADAPTER_WAT)?;
        wit_component::embed_component_metadata(&mut bytes, resolve, world, StringEncoding::UTF8)?;
        Ok(bytes)
    };
    build(&mut resolve).map_err(wasmtime::Error::from_anyhow)
}

/// Copies a module unchanged but for the module name of `proc_exit`.
struct Reroute;

impl Reencode for Reroute {
    type Error = std::convert::Infallible;

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        for import in section.into_imports() {
            let import = import?;
            let module = if import.module == PREVIEW1 && import.name == "proc_exit" {
                ADAPTER_NAME
            } else {
                import.module
            };
            imports.import(module, import.name, self.entity_type(import.ty)?);
        }
        Ok(())
    }
}
