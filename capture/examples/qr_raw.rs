//! Prints the text of the QR code in each image file given (the raw reader, as
//! `shinsei-agent scan-qr --raw`, without building the tablet binary).
fn main() {
    for f in std::env::args().skip(1) {
        match shinsei_capture::qr::read_text_file(std::path::Path::new(&f)) {
            Ok(t) => println!(
                "{f}\t{:?}",
                t.iter().map(|t| t.as_str()).collect::<Vec<_>>()
            ),
            Err(e) => println!("{f}\tERROR\t{e}"),
        }
    }
}
