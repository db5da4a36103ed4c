//! `tt-echo`: the reference server. A raw tokio-tungstenite 0.30 echo server with the naive
//! loop per connection (`next()`, then `send()` of the same message for text and binary),
//! the way an application would write it without a container.
//!
//! Usage: `tt-echo [ADDR] [--buffer-size BYTES]` (default 127.0.0.1:9002 and the library's
//! default buffers: 128 KiB read buffer, 128 KiB write threshold). `--buffer-size 4096` is the
//! small-buffer variant for idle-memory runs. Message limits match the benchmark's Berth
//! descriptor: 16 MiB.

use clap::Parser;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The largest message and frame accepted, as in the benchmark descriptor.
const LIMIT: usize = 16 << 20;

/// Raw tokio-tungstenite echo server (reference for berth-load).
#[derive(Debug, Parser)]
#[command(name = "tt-echo", version, about, long_about = None)]
struct Cli {
    /// Where to listen.
    #[arg(default_value = "127.0.0.1:9002")]
    addr: String,
    /// Read buffer size and write buffer threshold in bytes (default: the library's).
    #[arg(long, value_name = "BYTES")]
    buffer_size: Option<usize>,
}

fn config(buffer_size: Option<usize>) -> WebSocketConfig {
    let config = WebSocketConfig::default()
        .max_message_size(Some(LIMIT))
        .max_frame_size(Some(LIMIT));
    match buffer_size {
        Some(size) => config.read_buffer_size(size).write_buffer_size(size),
        None => config,
    }
}

async fn serve(stream: TcpStream, config: WebSocketConfig) {
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if matches!(message, Message::Text(_) | Message::Binary(_))
            && ws.send(message).await.is_err()
        {
            return;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = config(cli.buffer_size);
    let listener = TcpListener::bind(&cli.addr).await?;
    println!(
        "tt-echo listening on ws://{}/ (buffers: {})",
        listener.local_addr()?,
        cli.buffer_size
            .map_or("library defaults".to_owned(), |b| format!("{b} bytes"))
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, most likely: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, config));
    }
}
