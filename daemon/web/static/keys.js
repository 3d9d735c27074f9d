// Keyboard for the Duplicates page: a keep all, d keep the suggested copy and trash the rest, s skip,
// n not duplicates, ←/→ move between groups. A file of our own (the Content-Security-Policy allows no inline script).
document.addEventListener("keydown", function (event) {
  if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
  var click = { ArrowLeft: "prev", ArrowRight: "next", s: "skip", a: "keep-all", d: "trash-rest", n: "distinct" }[event.key];
  var target = click && document.getElementById(click);
  if (target) { event.preventDefault(); target.click(); }
});
