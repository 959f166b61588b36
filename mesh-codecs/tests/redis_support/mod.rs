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

/// Rebuilds a [`Frame`] from a [`FrameRef`] through the view API only, so
/// that tests can compare what the views say with what was encoded.
pub fn from_view(view: mesh_codecs::redis::FrameRef<'_>) -> Frame {
    use mesh_codecs::redis::Kind;
    let text = || view.to_bytes().unwrap();
    let children = || view.children().map(from_view).collect::<Vec<_>>();
    let pairs = |items: Vec<Frame>| -> Vec<(Frame, Frame)> {
        items
            .chunks(2)
            .map(|kv| (kv[0].clone(), kv[1].clone()))
            .collect()
    };
    match view.kind() {
        Kind::SimpleString => Frame::SimpleString(text()),
        Kind::Error => Frame::Error(text()),
        Kind::Integer => Frame::Integer(view.as_integer().unwrap()),
        Kind::BulkString => Frame::BulkString(text()),
        Kind::NullBulkString => Frame::NullBulkString,
        Kind::Array => Frame::Array(children()),
        Kind::NullArray => Frame::NullArray,
        Kind::Null => Frame::Null,
        Kind::Boolean => Frame::Boolean(view.as_bool().unwrap()),
        Kind::Double => Frame::Double(text()),
        Kind::BigNumber => Frame::BigNumber(text()),
        Kind::BulkError => Frame::BulkError(text()),
        Kind::Verbatim => Frame::Verbatim {
            format: view.verbatim_format().unwrap(),
            text: text(),
        },
        Kind::Map => {
            assert_eq!(view.children().len(), 2 * view.len());
            Frame::Map(pairs(children()))
        }
        Kind::Set => Frame::Set(children()),
        Kind::Push => Frame::Push(children()),
        Kind::Attribute => {
            let mut items = children();
            let frame = Box::new(items.pop().unwrap());
            assert_eq!(
                &from_view(view.without_attributes()),
                frame.without_attributes()
            );
            Frame::Attribute {
                attributes: pairs(items),
                frame,
            }
        }
        other => panic!("unknown kind {other:?}"),
    }
}
