//! A msgpacknet peer written the way the Rust crate works: rmp_serde straight
//! onto the TcpStream (so the handshake leaves in several small writes), the
//! handshake `(init, node_id)` first from both sides, then messages back to back.
//!
//! Usage: `peer listen` (prints `LISTENING <addr>`) or `peer connect <addr>`.
//! Every received `Msg` is printed and echoed back with `seq + 1000`, the text
//! upper-cased and `ts = u64::MAX`; on the text "bye" it ends its side (FIN).
//! It prints `EOF` when the other side ends the stream.
use serde::{Deserialize, Serialize};
use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

#[derive(Serialize, Deserialize, Debug)]
struct Msg {
    seq: u64,
    text: String,
    ts: u64,
}

fn run(stream: TcpStream) {
    let mut writer = stream.try_clone().expect("clone");
    // Our handshake: init message `()` (nil on the wire) and our node id.
    rmp_serde::encode::write(&mut writer, &((), "rust")).expect("write handshake");
    let mut reader = BufReader::new(stream);
    let (init, id): (Option<String>, String) = rmp_serde::from_read(&mut reader).expect("read handshake");
    println!("HANDSHAKE init={:?} id={}", init, id);
    loop {
        match rmp_serde::from_read::<_, Msg>(&mut reader) {
            Ok(msg) => {
                println!("MSG {} {} {}", msg.seq, msg.text, msg.ts);
                let reply = Msg { seq: msg.seq + 1000, text: msg.text.to_uppercase(), ts: u64::MAX };
                rmp_serde::encode::write(&mut writer, &reply).expect("write reply");
                writer.flush().expect("flush");
                if msg.text == "bye" {
                    writer.shutdown(Shutdown::Write).expect("shutdown");
                }
            }
            Err(error) => {
                println!("EOF {}", error);
                break;
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("listen") => {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            println!("LISTENING {}", listener.local_addr().expect("addr"));
            let (stream, _) = listener.accept().expect("accept");
            run(stream);
        }
        Some("connect") => {
            let stream = TcpStream::connect(args.get(2).expect("address")).expect("connect");
            run(stream);
        }
        _ => {
            eprintln!("usage: peer listen | peer connect <addr>");
            std::process::exit(2);
        }
    }
}
