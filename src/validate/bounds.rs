//! Each tool's input schema, generated the way `tools/list` serves it, read
//! against its parser: every property is a field the parser takes, every
//! required one is required, and every bound the schema states (maxLength,
//! minLength, maximum, minimum, maxItems, pattern, enum) is the one the parser
//! applies — a value at the bound passes, one past it fails on that field.
//! A bound changed on one side only fails here.

use std::any::Any;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use super::{
    call_api, create_secret, delete_credential, delete_secret, list_credentials, list_secrets,
    request_credential, store_credential,
};
use crate::error::ApiError;
use crate::model;

type Parse = fn(Map<String, Value>) -> Result<(), ApiError>;

/// A tool: its name, its schema as served, its parser and arguments it accepts.
struct Tool {
    name: &'static str,
    schema: Map<String, Value>,
    parse: Parse,
    base: Value,
}

fn schema<T: JsonSchema + Any>() -> Map<String, Value> {
    (*rmcp::handler::server::common::schema_for_type::<T>()).clone()
}

fn tools() -> Vec<Tool> {
    let credential = json!({"service_id": "openai", "credential_type": "bearer"});
    let mut stored = credential.clone();
    stored["credential_value"] = json!("sk-1");
    vec![
        Tool {
            name: "store_credential",
            schema: schema::<model::StoreCredential>(),
            parse: |a| store_credential(a).map(drop),
            base: stored,
        },
        Tool {
            name: "request_credential",
            schema: schema::<model::CredentialSpec>(),
            parse: |a| request_credential(a).map(drop),
            base: credential,
        },
        Tool {
            name: "list_credentials",
            schema: schema::<model::ListCredentials>(),
            parse: |a| list_credentials(a).map(drop),
            base: json!({}),
        },
        Tool {
            name: "delete_credential",
            schema: schema::<model::Selector>(),
            parse: |a| delete_credential(a).map(drop),
            base: json!({"service_id": "openai"}),
        },
        Tool {
            name: "create_secret",
            schema: schema::<model::CreateSecret>(),
            parse: |a| create_secret(a).map(drop),
            base: json!({"name": "GH_TOKEN", "provider": "github", "value": "v"}),
        },
        Tool {
            name: "list_secrets",
            schema: schema::<model::ListSecrets>(),
            parse: |a| list_secrets(a).map(drop),
            base: json!({}),
        },
        Tool {
            name: "delete_secret",
            schema: schema::<model::DeleteSecret>(),
            parse: |a| delete_secret(a).map(drop),
            base: json!({"name": "GH_TOKEN"}),
        },
        Tool {
            name: "call_api",
            schema: schema::<model::CallApi>(),
            parse: |a| call_api(a).map(drop),
            base: json!({"service_id": "openai", "method": "GET", "url": "/models"}),
        },
    ]
}

/// A value for `field` of `len` characters (or items) that is otherwise valid.
fn sized(field: &str, len: usize) -> Option<Value> {
    match field {
        "service_id" => (len > 7).then(|| json!(format!("custom.{}", "a".repeat(len - 7)))),
        "url" => (len > 0).then(|| json!(format!("/{}", "p".repeat(len - 1)))),
        "allowed_hosts" => Some(Value::Array(
            (0..len)
                .map(|i| json!(format!("h{i}.example.com")))
                .collect(),
        )),
        _ => Some(json!("a".repeat(len))),
    }
}

/// Any value of the property's type (to see the parser takes the field).
fn some_value(field: &str, prop: &Value) -> Value {
    match prop["type"].as_str() {
        Some("integer") => prop.get("minimum").cloned().unwrap_or(json!(1)),
        Some("array") => json!([]),
        Some("object") => json!({}),
        Some("string") => match prop.get("enum") {
            Some(Value::Array(e)) => e[0].clone(),
            _ => sized(field, 8).unwrap_or(json!("a")),
        },
        _ => json!(1),
    }
}

/// The `type`s of the errors on `field` when `args` are parsed.
fn kinds(tool: &Tool, args: &Value) -> Vec<&'static str> {
    let args = args.as_object().cloned().unwrap_or_default();
    match (tool.parse)(args) {
        Ok(()) => Vec::new(),
        Err(e) => {
            assert_eq!(e.code, 422, "{}: {}", tool.name, e.to_json());
            e.errors.iter().map(|f| f.kind).collect::<Vec<_>>()
        }
    }
}

fn errors_on(tool: &Tool, args: &Value, field: &str) -> Vec<&'static str> {
    let args = args.as_object().cloned().unwrap_or_default();
    match (tool.parse)(args) {
        Ok(()) => Vec::new(),
        Err(e) => e
            .errors
            .iter()
            .filter(|f| f.loc.first().map(String::as_str) == Some(field))
            .map(|f| f.kind)
            .collect(),
    }
}

fn with(base: &Value, field: &str, value: Value) -> Value {
    let mut v = base.clone();
    v[field] = value;
    v
}

fn without(base: &Value, field: &str) -> Value {
    let mut v = base.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove(field);
    }
    v
}

/// The largest `N` of a pattern `^<class><class>{0,N}$`: its longest match is `N + 1`.
fn pattern_max_len(pattern: &str) -> usize {
    let tail = pattern
        .rsplit_once("{0,")
        .map(|(_, t)| t)
        .unwrap_or_default();
    let n: usize = tail.trim_end_matches("}$").parse().unwrap();
    n + 1
}

#[test]
fn every_tool_is_checked_here() {
    let names: Vec<_> = tools().iter().map(|t| t.name).collect();
    assert_eq!(names.len(), 8, "{names:?}");
}

#[test]
fn the_arguments_the_schemas_describe_are_the_ones_the_parsers_take() {
    for tool in tools() {
        let t = tool.name;
        assert!(
            kinds(&tool, &tool.base).is_empty(),
            "{t}: base args refused"
        );
        assert_eq!(
            tool.schema.get("additionalProperties"),
            Some(&json!(false)),
            "{t}: {:?}",
            tool.schema
        );
        let unknown = with(&tool.base, "zz_not_a_field", json!(1));
        assert_eq!(
            errors_on(&tool, &unknown, "zz_not_a_field"),
            ["extra_forbidden"],
            "{t}"
        );
        let required: Vec<&str> = tool
            .schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let props = tool.schema["properties"].as_object().unwrap();
        for (field, prop) in props {
            let taken = with(&tool.base, field, some_value(field, prop));
            assert!(
                !errors_on(&tool, &taken, field).contains(&"extra_forbidden"),
                "{t}.{field}: served but refused as unknown"
            );
            let missing = errors_on(&tool, &without(&tool.base, field), field);
            if required.contains(&field.as_str()) {
                assert_eq!(missing, ["missing"], "{t}.{field}: required but not");
            } else if (t, field.as_str()) == ("delete_credential", "service_id") {
                // id or service_id: a choice the served schema does not state.
                assert_eq!(missing, ["missing"], "{t}.{field}");
            } else {
                assert!(missing.is_empty(), "{t}.{field}: optional but {missing:?}");
            }
        }
    }
}

#[test]
fn every_served_bound_is_the_parsers() {
    let mut checked = 0;
    for tool in tools() {
        let t = tool.name;
        let props = tool.schema["properties"].as_object().unwrap();
        for (field, prop) in props {
            let f = field.as_str();
            let accepted = |v: Value| {
                let errs = errors_on(&tool, &with(&tool.base, f, v), f);
                assert!(errs.is_empty(), "{t}.{f}: at the bound but {errs:?}");
            };
            let refused = |v: Value, kind: &str| {
                let errs = errors_on(&tool, &with(&tool.base, f, v), f);
                assert!(errs.contains(&kind), "{t}.{f}: past the bound but {errs:?}");
            };
            if let Some(max) = prop.get("maxLength").and_then(Value::as_u64) {
                let max = max as usize;
                accepted(sized(f, max).unwrap());
                refused(sized(f, max + 1).unwrap(), "too_long");
                checked += 1;
            }
            if let Some(min) = prop.get("minLength").and_then(Value::as_u64) {
                let min = min as usize;
                if let Some(v) = sized(f, min).filter(|_| f != "service_id") {
                    accepted(v);
                }
                refused(json!("a".repeat(min - 1)), "missing");
                checked += 1;
            }
            if let Some(max) = prop.get("maxItems").and_then(Value::as_u64) {
                let max = max as usize;
                accepted(sized(f, max).unwrap());
                refused(sized(f, max + 1).unwrap(), "too_long");
                checked += 1;
            }
            if let Some(max) = prop.get("maximum").and_then(Value::as_u64) {
                accepted(json!(max));
                refused(json!(max + 1), "value_error");
                checked += 1;
            }
            if let Some(min) = prop.get("minimum").and_then(Value::as_u64) {
                accepted(json!(min));
                refused(json!(min - 1), "value_error");
                checked += 1;
            }
            if let Some(Value::Array(values)) = prop.get("enum") {
                for v in values {
                    accepted(v.clone());
                }
                refused(json!("NOT_LISTED"), "enum");
                checked += 1;
            }
            if let Some(pattern) = prop.get("pattern").and_then(Value::as_str) {
                let longest = pattern_max_len(pattern);
                accepted(json!("a".repeat(longest)));
                refused(json!("a".repeat(longest + 1)), "value_error");
                refused(json!("-a"), "value_error");
                // And whatever else the pattern matches.
                let body = pattern.trim_start_matches('^').trim_end_matches('$');
                let strategy = proptest::string::string_regex(body).unwrap();
                let mut runner = TestRunner::deterministic();
                for _ in 0..200 {
                    let s = strategy.new_tree(&mut runner).unwrap().current();
                    accepted(json!(s));
                }
                checked += 1;
            }
        }
    }
    // store/request/call: service_id and name lengths, allowed_hosts, the
    // enums, url, timeout; lists: limit; create_secret: patterns and value.
    assert_eq!(checked, 35, "bounds checked");
}
