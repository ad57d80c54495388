//! The schemas `tools/list` serves: derived by schemars from the argument and
//! result types, then trimmed to what a client and a model use (the golden
//! files under schemas/ show the served form).

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool};
use schemars::JsonSchema;

/// The input schema schemars derives for `T` (trimmed later by [`as_served`]).
pub(super) fn input_schema<T: JsonSchema + std::any::Any>() -> Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_type::<T>()
}

/// The output schema of a tool that returns a [`rmcp::model::CallToolResponse`]
/// (what `Json<T>` would declare).
pub(super) fn output_schema<T: JsonSchema + std::any::Any>() -> Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_output::<T>()
}

/// Puts `tool`'s schemas in the form tools/list serves (once per process).
pub(super) fn as_served(tool: &mut Tool) {
    tool.input_schema = compact(&optional_not_null(&tool.input_schema));
    tool.output_schema = tool
        .output_schema
        .as_ref()
        .map(|s| compact(&undescribed(s)));
}

/// A schema as tools/list serves it: without `$schema` (MCP's default dialect
/// is 2020-12 already) and without schemars' numeric-width `format`s
/// (`uint16`, `int64`, …), which are not JSON Schema formats: clients ignore
/// them at best (Claude Code warns "unknown format"). tools/list stays small.
fn compact(schema: &JsonObject) -> Arc<JsonObject> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                let format = o.get("format").and_then(|f| f.as_str()).map(str::to_owned);
                if let Some(f) = format.filter(|f| {
                    f.starts_with("int") || f.starts_with("uint") || f == "float" || f == "double"
                }) {
                    o.remove("format");
                    // The bounds schemars derives from the Rust type (0 and
                    // u16::MAX for a status code) say nothing either.
                    if f.starts_with("uint") && o.get("minimum") == Some(&0.into()) {
                        o.remove("minimum");
                        if matches!(
                            o.get("maximum").and_then(|m| m.as_u64()),
                            Some(255 | 65535 | 4294967295)
                        ) {
                            o.remove("maximum");
                        }
                    }
                }
                o.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::Value::Object(schema.clone());
    strip(&mut v);
    let mut o = match v {
        serde_json::Value::Object(o) => o,
        _ => schema.clone(),
    };
    o.remove("$schema");
    // schemars' type name and doc line ("Arguments of `call_api`.") tell a
    // client nothing the tool's description does not.
    o.remove("title");
    o.remove("description");
    Arc::new(o)
}

/// An input schema whose optional properties say their type without `null`
/// (schemars writes `["string","null"]` for `Option<String>`): leaving a field
/// out is how a caller omits it, and the server still accepts an explicit null.
fn optional_not_null(schema: &JsonObject) -> JsonObject {
    let mut out = schema.clone();
    if let Some(serde_json::Value::Object(props)) = out.get_mut("properties") {
        for prop in props.values_mut() {
            if let Some(serde_json::Value::Array(types)) = prop.get("type") {
                let kept: Vec<serde_json::Value> =
                    types.iter().filter(|t| *t != "null").cloned().collect();
                if kept.len() == 1 {
                    prop["type"] = kept[0].clone();
                }
            }
        }
    }
    out
}

/// An output schema without property descriptions: the tool's description
/// says what it returns, the field names say the rest, and every tools/list
/// carries them (the golden files under schemas/ show the served form).
fn undescribed(schema: &JsonObject) -> JsonObject {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                if o.get("description").is_some_and(|d| d.is_string()) {
                    o.remove("description");
                }
                o.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::Value::Object(schema.clone());
    strip(&mut v);
    match v {
        serde_json::Value::Object(o) => o,
        _ => schema.clone(),
    }
}
