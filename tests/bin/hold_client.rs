//! A WebSocket client process for the tests that need a real, separate peer: it connects to
//! the URL given, prints `connected`, and then only reads (answering pings) until the
//! connection ends. Stop it with SIGSTOP to play a frozen peer, or SIGKILL a vanished one.

use futures_util::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: hold-client URL"))?;
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    println!("connected");
    while let Some(message) = ws.next().await {
        if message.is_err() {
            break;
        }
    }
    Ok(())
}
