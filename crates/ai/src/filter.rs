//! What passes from an upstream stream to the client, chunk by chunk.
//!
//! Known sore points handled here: Azure's first chunk with empty `choices`
//! (prompt filter results) and its content-filter-only chunks, which break
//! clients that read `choices[0]`; the usage-only last chunk we asked for
//! (`stream_options.include_usage`) when the client did not; malformed
//! events, which are dropped rather than passed on half-parsed.

use serde_json::Value;

/// Token counts from an upstream `usage` object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    pub fn from_json(v: &Value) -> Option<Usage> {
        let u = v.get("usage")?;
        if !u.is_object() {
            return None;
        }
        Some(Usage {
            prompt_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
            completion_tokens: u
                .get("completion_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
    }

    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// The verdict on one `data:` payload.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Pass it on unchanged.
    Forward,
    /// The end marker.
    Done,
    /// Not for the client.
    Drop(&'static str),
}

/// What a chunk tells us besides the verdict.
#[derive(Debug, Default, PartialEq)]
pub struct Seen {
    pub usage: Option<Usage>,
    /// The chunk carries generated content (text or tool calls): the first
    /// one marks the time to first token.
    pub content: bool,
    pub error: bool,
}

pub fn judge(data: &str, client_wants_usage: bool) -> (Verdict, Seen) {
    let mut seen = Seen::default();
    if data.trim() == "[DONE]" {
        return (Verdict::Done, seen);
    }
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return (Verdict::Drop("malformed"), seen);
    };
    if v.get("error").is_some() {
        seen.error = true;
        return (Verdict::Forward, seen);
    }
    seen.usage = Usage::from_json(&v);
    let choices = v.get("choices").and_then(Value::as_array);
    match choices {
        Some(c) if c.is_empty() => {
            return if seen.usage.is_some() && client_wants_usage {
                (Verdict::Forward, seen)
            } else if seen.usage.is_some() {
                (Verdict::Drop("usage_not_requested"), seen)
            } else {
                (Verdict::Drop("empty_choices"), seen)
            };
        }
        Some(c) => {
            let first = &c[0];
            let delta = first.get("delta");
            let text = first
                .get("text")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty());
            let delta_content = delta.is_some_and(|d| {
                d.get("content")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty())
                    || d.get("tool_calls").is_some_and(|t| !t.is_null())
                    || d.get("function_call").is_some_and(|t| !t.is_null())
            });
            seen.content = text || delta_content;
            let delta_empty = delta.is_none_or(|d| d.as_object().is_none_or(|o| o.is_empty()));
            let finished = first.get("finish_reason").is_some_and(|f| !f.is_null());
            if first.get("content_filter_results").is_some() && delta_empty && !text && !finished {
                return (Verdict::Drop("content_filter"), seen);
            }
        }
        None => {}
    }
    (Verdict::Forward, seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_and_usage_quirks() {
        // Azure's prompt-filter chunk.
        let (v, _) = judge(
            r#"{"id":"","choices":[],"prompt_filter_results":[{}]}"#,
            false,
        );
        assert_eq!(v, Verdict::Drop("empty_choices"));
        // A content-filter-only chunk.
        let (v, _) = judge(
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":null,"content_filter_results":{"hate":{}}}]}"#,
            false,
        );
        assert_eq!(v, Verdict::Drop("content_filter"));
        // Content with filter results attached is kept.
        let (v, s) = judge(
            r#"{"choices":[{"index":0,"delta":{"content":"hi"},"content_filter_results":{}}]}"#,
            false,
        );
        assert_eq!((v, s.content), (Verdict::Forward, true));
        // The usage chunk: forwarded only when the client asked.
        let usage = r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#;
        let (v, s) = judge(usage, false);
        assert_eq!(v, Verdict::Drop("usage_not_requested"));
        assert_eq!(s.usage.map(|u| u.total()), Some(8));
        assert_eq!(judge(usage, true).0, Verdict::Forward);
        assert_eq!(judge("[DONE]", false).0, Verdict::Done);
        assert_eq!(judge("{not json", false).0, Verdict::Drop("malformed"));
        let (_, s) = judge(
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#,
            false,
        );
        assert!(s.content);
        assert!(judge(r#"{"error":{"message":"x"}}"#, false).1.error);
    }
}
