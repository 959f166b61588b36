#![allow(clippy::unwrap_used)]
use mesh_http::h2::{Config, Request, Response, server};
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scratch_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    std::fs::write(
        "/tmp/h2conn/addr",
        listener.local_addr().unwrap().to_string(),
    )
    .unwrap();
    let demo = |_req: Request| async { Response::with_status(200, "hello\n") };
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(40));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            r = listener.accept() => {
                let (s, _) = r.unwrap();
                tokio::spawn(async move { let r = server::serve_connection(s, &demo, Config::default()).await; eprintln!("conn end: {r:?}"); });
            }
        }
    }
}
