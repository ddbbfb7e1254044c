// LedgerLink console: the only script (no inline script: the CSP forbids it). A "select all" box for bulk actions.
document.addEventListener("DOMContentLoaded", function () {
  var boxes = document.querySelectorAll('input[type="checkbox"][name="ids"]');
  var bulk = document.getElementById("bulk");
  if (!bulk || boxes.length === 0) { return; }
  var label = document.createElement("label");
  var all = document.createElement("input");
  all.type = "checkbox";
  all.id = "select-all";
  label.appendChild(all);
  label.appendChild(document.createTextNode(" select all shown"));
  bulk.insertBefore(label, bulk.firstChild);
  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
  });
});
