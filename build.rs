// Migrations are embedded with sqlx::migrate!, so a changed migration must rebuild the binary.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
