//! Rebuilding a complete chat message from streamed chunks, the way the
//! official SDKs do: text concatenated, tool calls merged by `index` (not by
//! `id`, which only the first delta of a call carries), whole tool calls
//! arriving in one delta, and empty argument deltas.

use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assembled {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<String>,
}

impl Assembled {
    /// Folds one chunk (the parsed `data:` JSON) into the message.
    pub fn push(&mut self, chunk: &Value) {
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
            return;
        };
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(f.to_owned());
        }
        if let Some(t) = choice.get("text").and_then(Value::as_str) {
            self.content.push_str(t);
        }
        let Some(delta) = choice.get("delta") else {
            return;
        };
        if let Some(t) = delta.get("content").and_then(Value::as_str) {
            self.content.push_str(t);
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(self.tool_calls.len() as u64) as usize;
            while self.tool_calls.len() <= index {
                self.tool_calls.push(ToolCall::default());
            }
            let slot = &mut self.tool_calls[index];
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                if !id.is_empty() {
                    slot.id = id.to_owned();
                }
            }
            if let Some(f) = call.get("function") {
                if let Some(n) = f.get("name").and_then(Value::as_str) {
                    slot.name.push_str(n);
                }
                if let Some(a) = f.get("arguments").and_then(Value::as_str) {
                    slot.arguments.push_str(a);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_calls_merge_by_index() {
        let mut a = Assembled::default();
        for c in [
            json!({"choices":[{"delta":{"role":"assistant","content":"Let me "}}]}),
            json!({"choices":[{"delta":{"content":"check."}}]}),
            // Two calls interleaved; ids only on their first delta.
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"read_file","arguments":""}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"list","arguments":"{\"p"}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":""}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"a.rs\"}"}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\":\"/\"}"}}]}}]}),
            // A whole third call in one delta.
            json!({"choices":[{"delta":{"tool_calls":[{"index":2,"id":"call_c","type":"function","function":{"name":"run","arguments":"{\"cmd\":\"ls\"}"}}]}}]}),
            json!({"choices":[{"delta":{},"finish_reason":"tool_calls"}]}),
        ] {
            a.push(&c);
        }
        assert_eq!(a.content, "Let me check.");
        assert_eq!(a.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            a.tool_calls,
            vec![
                ToolCall {
                    id: "call_a".into(),
                    name: "read_file".into(),
                    arguments: "{\"path\":\"a.rs\"}".into()
                },
                ToolCall {
                    id: "call_b".into(),
                    name: "list".into(),
                    arguments: "{\"p\":\"/\"}".into()
                },
                ToolCall {
                    id: "call_c".into(),
                    name: "run".into(),
                    arguments: "{\"cmd\":\"ls\"}".into()
                },
            ]
        );
    }
}
