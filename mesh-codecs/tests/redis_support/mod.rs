//! Helpers shared by the Redis tests: talking to a real `redis-server`
//! through our own codec.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use mesh_codecs::redis::{Frame, RespCodec};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// A connection to a Redis server, framed by our codec.
pub struct Conn {
    framed: Framed<TcpStream, RespCodec>,
}

impl Conn {
    /// Connects and, when `resp3`, switches the connection to RESP3 with
    /// `HELLO 3` (checking the server agreed).
    pub async fn connect(addr: SocketAddr, resp3: bool) -> Conn {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut conn = Conn {
            framed: Framed::new(stream, RespCodec::replies()),
        };
        if resp3 {
            let hello = conn.call(&["HELLO", "3"]).await;
            let Frame::Map(pairs) = hello else {
                panic!("HELLO 3 answered {hello:?}");
            };
            assert!(pairs.contains(&(Frame::bulk("proto"), Frame::Integer(3))));
        }
        conn
    }

    /// Sends one command through our encoder and decodes the reply.
    pub async fn call<S: AsRef<[u8]>>(&mut self, args: &[S]) -> Frame {
        self.send(args).await;
        self.recv().await
    }

    /// Sends one command without waiting for the reply.
    pub async fn send<S: AsRef<[u8]>>(&mut self, args: &[S]) {
        self.framed.send(Frame::command(args)).await.unwrap();
    }

    /// The next frame the server sends (a reply or a push).
    pub async fn recv(&mut self) -> Frame {
        tokio::time::timeout(Duration::from_secs(10), self.framed.next())
            .await
            .expect("the server answers within 10 s")
            .expect("the connection is open")
            .expect("the reply decodes")
    }

    /// Parse steps our decoder took on this connection so far.
    pub fn steps(&self) -> u64 {
        self.framed.codec().steps()
    }
}

/// Splits a line into arguments at spaces (test commands have no spaces
/// inside arguments); `""` is an empty argument.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace()
        .map(|w| if w == "\"\"" { "" } else { w })
        .collect()
}
