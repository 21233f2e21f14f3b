// The floor of every start-up figure in `make bench`: a statically linked process that
// does nothing. bch is static too, so the ratio is what bch itself adds.
int main() {
  return 0;
}
