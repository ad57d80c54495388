//! `schemas/<tool>.{input,output}.json` are the committed contract; this fails
//! when tools/list serves something else. `UPDATE_SCHEMAS=1 cargo test` rewrites them.

use std::path::PathBuf;

use serde_json::Value;

use crate::common::Env;

#[tokio::test]
async fn committed_schemas_match_what_tools_list_serves() {
    let env = Env::new();
    let c = env.client().await;
    let tools = c.service.list_all_tools().await.unwrap();
    c.stop().await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut mismatches = Vec::new();
    for t in &tools {
        let served = [
            ("input", Value::Object((*t.input_schema).clone())),
            (
                "output",
                Value::Object((*t.output_schema.clone().unwrap()).clone()),
            ),
        ];
        for (kind, schema) in served {
            let path = dir.join(format!("{}.{kind}.json", t.name));
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, serde_json::to_string_pretty(&schema).unwrap() + "\n")
                    .unwrap();
                continue;
            }
            let committed: Value = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null);
            if committed != schema {
                mismatches.push(path.display().to_string());
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "schemas differ from tools/list (rerun with UPDATE_SCHEMAS=1 and review the diff): {mismatches:?}"
    );
}
