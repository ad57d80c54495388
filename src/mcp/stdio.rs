//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout.
//!
//! rmcp's own stdio transport silently drops a line that is not JSON. DESIGN §3
//! (and JSON-RPC 2.0) want an error object instead, so lines are framed here:
//! a line that is not UTF-8 JSON gets `-32700 Parse error`, JSON that is not a
//! JSON-RPC message gets `-32600 Invalid Request` (or `-32602` when a request's
//! envelope is fine and only its params are wrong), both with `"id": null`
//! unless the request's id could be read. Everything else goes to rmcp. One
//! writer task owns stdout, so replies and these errors never interleave.

use std::os::fd::AsFd;
use std::sync::Arc;

use futures::SinkExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::{PollSendError, PollSender};

use super::rendered::Handoff;

/// Longest line accepted (a 16 KiB value fits many times over; a client has no
/// reason to send more). Longer lines are discarded and answered with -32600.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// What the writer task prints.
#[derive(Debug)]
pub enum Outgoing {
    /// A message from rmcp.
    Message(Box<ServerJsonRpcMessage>),
    /// An error object for a line rmcp never saw.
    Raw(String),
}

type Wrapped = futures::future::Ready<Result<Outgoing, PollSendError<Outgoing>>>;

/// rmcp's outgoing half: messages wrapped into [`Outgoing`] for the writer task.
pub type OutSink = futures::sink::With<
    PollSender<Outgoing>,
    Outgoing,
    ServerJsonRpcMessage,
    Wrapped,
    fn(ServerJsonRpcMessage) -> Wrapped,
>;

/// rmcp's incoming half.
pub type InStream = std::pin::Pin<Box<dyn futures::Stream<Item = ClientJsonRpcMessage> + Send>>;

/// The (sink, stream) pair to hand to rmcp, and the tasks behind it.
pub struct StdioTransport {
    /// rmcp's outgoing messages.
    pub sink: OutSink,
    /// rmcp's incoming messages.
    pub stream: InStream,
    /// Ends when stdout is closed or every sender is gone.
    pub writer: tokio::task::JoinHandle<()>,
    /// Rendered list results on their way to the writer (give it to the server).
    pub handoff: Arc<Handoff>,
}

fn wrap(m: ServerJsonRpcMessage) -> Wrapped {
    futures::future::ready(Ok(Outgoing::Message(Box::new(m))))
}

/// Frames `input` and `output` (stdin and stdout in production).
pub fn transport<R, W>(input: R, output: W) -> StdioTransport
where
    R: AsyncBufRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, out_rx) = mpsc::channel::<Outgoing>(256);
    let (in_tx, in_rx) = mpsc::channel::<ClientJsonRpcMessage>(256);
    tokio::spawn(read_lines(input, in_tx, out_tx.clone()));
    let handoff = Arc::new(Handoff::default());
    let writer = tokio::spawn(write_lines(output, out_rx, handoff.clone()));
    let stream = Box::pin(futures::stream::unfold(in_rx, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    }));
    let sink = PollSender::new(out_tx).with(wrap as fn(_) -> _);
    StdioTransport {
        sink,
        stream,
        writer,
        handoff,
    }
}

/// Buffered input for [`transport`].
pub type Input = Box<dyn AsyncBufRead + Unpin + Send>;
/// Output for [`transport`].
pub type Output = Box<dyn AsyncWrite + Unpin + Send>;

/// The process's stdin and stdout for [`transport`].
///
/// MCP clients spawn servers with pipes; those are switched to non-blocking
/// and driven by tokio's reactor, where tokio's own stdin and stdout run
/// every read and write on a blocking thread (a thread hand-off per message
/// each way). stdout's pipe buffer is raised to 1 MiB (best effort) so a long
/// reply is written at once. A terminal, a file, or a stdout that is also
/// stderr's pipe (where a log line could then meet a full pipe) keeps tokio's.
/// Call it inside the runtime; drop the [`Restore`] after the runtime.
pub fn std_streams() -> (Input, Output, Restore) {
    use tokio::net::unix::pipe;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut restore = Restore::default();
    let before = rustix::fs::fcntl_getfl(&stdin).ok();
    let input: Input = match stdin
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Receiver::from_owned_fd)
    {
        Ok(r) => {
            restore.stdin = before;
            Box::new(tokio::io::BufReader::with_capacity(64 * 1024, r))
        }
        Err(_) => Box::new(tokio::io::BufReader::new(tokio::io::stdin())),
    };
    let shared_with_stderr = match (
        rustix::fs::fstat(&stdout),
        rustix::fs::fstat(std::io::stderr()),
    ) {
        (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
        _ => true,
    };
    let before = rustix::fs::fcntl_getfl(&stdout).ok();
    let output: Output = match stdout.as_fd().try_clone_to_owned() {
        Ok(fd) if !shared_with_stderr => match pipe::Sender::from_owned_fd(fd) {
            Ok(w) => {
                restore.stdout = before;
                let _ = rustix::pipe::fcntl_setpipe_size(&w, 1 << 20);
                Box::new(w)
            }
            Err(_) => Box::new(tokio::io::stdout()),
        },
        _ => Box::new(tokio::io::stdout()),
    };
    (input, output, restore)
}

/// Puts back, when dropped, the file status flags [`std_streams`] changed on
/// stdin's and stdout's pipes: they belong to the pipe ends, which the process
/// that started credvault may share. Drop it after the runtime, when no task
/// can read or write them any more.
#[derive(Default)]
pub struct Restore {
    stdin: Option<rustix::fs::OFlags>,
    stdout: Option<rustix::fs::OFlags>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(flags) = self.stdin {
            let _ = rustix::fs::fcntl_setfl(std::io::stdin(), flags);
        }
        if let Some(flags) = self.stdout {
            let _ = rustix::fs::fcntl_setfl(std::io::stdout(), flags);
        }
    }
}

async fn write_lines<W: AsyncWrite + Unpin>(
    mut output: W,
    mut rx: mpsc::Receiver<Outgoing>,
    handoff: Arc<Handoff>,
) {
    while let Some(out) = rx.recv().await {
        let mut line = match out {
            Outgoing::Message(m) => match handoff.line(&m) {
                Some(line) => line,
                None => match serde_json::to_vec(&m) {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::error!("could not encode a reply: {e}");
                        continue;
                    }
                },
            },
            Outgoing::Raw(s) => s.into_bytes(),
        };
        line.push(b'\n');
        if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
            tracing::debug!("stdout closed");
            return;
        }
    }
}

async fn read_lines<R: AsyncBufRead + Unpin>(
    mut input: R,
    to_rmcp: mpsc::Sender<ClientJsonRpcMessage>,
    out: mpsc::Sender<Outgoing>,
) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_capped_line(&mut input, &mut line).await {
            Ok(LineRead::Eof) => return,
            Ok(LineRead::TooLong) => {
                let _ = out
                    .send(Outgoing::Raw(error(
                        Value::Null,
                        -32600,
                        "Invalid Request: message too large",
                    )))
                    .await;
                continue;
            }
            Ok(LineRead::Line) => {}
            Err(e) => {
                tracing::debug!("reading stdin: {e}");
                return;
            }
        }
        match classify(&line) {
            Classified::Message(m) => {
                if to_rmcp.send(*m).await.is_err() {
                    return;
                }
            }
            Classified::Reply(r) => {
                if out.send(Outgoing::Raw(r)).await.is_err() {
                    return;
                }
            }
            Classified::Ignore => {}
        }
    }
}

enum LineRead {
    Line,
    TooLong,
    Eof,
}

/// Reads up to and excluding `\n`; a line over [`MAX_LINE_BYTES`] is consumed
/// to its end and reported as too long without being kept.
async fn read_capped_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<LineRead> {
    let mut too_long = false;
    loop {
        let buf = input.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if too_long {
                LineRead::TooLong
            } else if line.is_empty() {
                LineRead::Eof
            } else {
                LineRead::Line
            });
        }
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE_BYTES {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(buf.len());
        input.consume(used);
        if done.is_some() {
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Line
            });
        }
    }
}

enum Classified {
    Message(Box<ClientJsonRpcMessage>),
    Reply(String),
    Ignore,
}

fn error(id: Value, code: i64, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
}

fn classify(line: &[u8]) -> Classified {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Classified::Ignore;
    }
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return Classified::Reply(error(Value::Null, -32700, "Parse error"));
    };
    // Echo an id only when it is a valid JSON-RPC id.
    let id = match value.get("id") {
        Some(id @ Value::String(_)) => id.clone(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n.clone()),
        _ => Value::Null,
    };
    let well_formed_request = value.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
        && value.get("method").is_some_and(Value::is_string);
    match serde_json::from_value::<ClientJsonRpcMessage>(value.clone()) {
        Ok(m) => Classified::Message(Box::new(m)),
        // A notification with bad params: nothing to answer.
        Err(_) if well_formed_request && value.get("id").is_none() => Classified::Ignore,
        Err(_) if well_formed_request && !id.is_null() => {
            Classified::Reply(error(id, -32602, "Invalid params"))
        }
        Err(_) => Classified::Reply(error(id, -32600, "Invalid Request")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(line: &[u8]) -> Value {
        match classify(line) {
            Classified::Reply(r) => serde_json::from_str(&r).unwrap(),
            Classified::Message(_) => panic!("accepted {:?}", String::from_utf8_lossy(line)),
            Classified::Ignore => Value::Null,
        }
    }

    #[test]
    fn non_json_is_a_parse_error_with_a_null_id() {
        for line in [&b"hello"[..], b"{", b"\xff\xfe", b"{\"id\":1,"] {
            let r = reply(line);
            assert_eq!(r["error"]["code"], -32700);
            assert!(r.as_object().unwrap().contains_key("id") && r["id"].is_null());
        }
        assert!(matches!(classify(b"   "), Classified::Ignore));
        assert!(matches!(classify(b""), Classified::Ignore));
    }

    #[test]
    fn wrong_shapes_are_invalid_requests_and_bad_params_keep_the_id() {
        for line in [
            &br#"[1]"#[..],
            b"42",
            br#"{"id":"a","method":"ping"}"#,
            br#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#,
        ] {
            let r = reply(line);
            assert_eq!(
                r["error"]["code"],
                -32600,
                "{}",
                String::from_utf8_lossy(line)
            );
            assert!(r["id"].is_null() || r["id"] == "a");
        }
        let r = reply(br#"{"jsonrpc":"2.0","id":"s6","method":"tools/call","params":5}"#);
        assert_eq!(
            (r["error"]["code"].as_i64(), r["id"].as_str()),
            (Some(-32602), Some("s6"))
        );
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","method":"notifications/initialized","params":5}"#),
            Classified::Ignore | Classified::Message(_)
        ));
    }

    #[test]
    fn valid_messages_pass_through() {
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Classified::Message(_)
        ));
        assert!(matches!(
            classify(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r"),
            Classified::Message(_)
        ));
    }

    #[tokio::test]
    async fn long_lines_are_discarded_whole() {
        let mut data = vec![b'x'; MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\n{\"a\":1}\n");
        let mut r = tokio::io::BufReader::new(&data[..]);
        let mut line = Vec::new();
        assert!(matches!(
            read_capped_line(&mut r, &mut line).await.unwrap(),
            LineRead::TooLong
        ));
        line.clear();
        assert!(matches!(
            read_capped_line(&mut r, &mut line).await.unwrap(),
            LineRead::Line
        ));
        assert_eq!(line, b"{\"a\":1}");
        line.clear();
        assert!(matches!(
            read_capped_line(&mut r, &mut line).await.unwrap(),
            LineRead::Eof
        ));
    }
}
