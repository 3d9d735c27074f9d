// Keyboard for the Duplicates page: ←/→ or s move between groups, n marks the group "not duplicates".
// A file of our own (the Content-Security-Policy allows no inline script).
document.addEventListener("keydown", function (event) {
  if (event.target.closest("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
  var click = { ArrowLeft: "prev", ArrowRight: "next", s: "next", n: "distinct" }[event.key];
  var target = click && document.getElementById(click);
  if (target) { event.preventDefault(); target.click(); }
});
