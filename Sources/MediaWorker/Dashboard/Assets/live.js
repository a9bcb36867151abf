// The live tail of /events: polls /api/events for what came after the last row shown.
(function () {
  var table = document.getElementById('live');
  if (!table) return;
  var after = table.dataset.after, queue = table.dataset.queue;
  function cell(row, text) { var td = document.createElement('td'); td.textContent = text; row.appendChild(td); return td; }
  function poll() {
    fetch('/api/events?queue=' + encodeURIComponent(queue) + '&after=' + encodeURIComponent(after), {credentials: 'same-origin'})
      .then(function (r) { return r.json(); })
      .then(function (items) {
        items.forEach(function (item) {
          var e = item.event, row = document.createElement('tr');
          cell(row, item.id); cell(row, e.type); cell(row, e.job_id); cell(row, e.occurred_at);
          var code = document.createElement('code'); code.textContent = JSON.stringify(e.data);
          var td = document.createElement('td'); td.appendChild(code); row.appendChild(td);
          table.appendChild(row); after = item.id;
        });
      })
      .catch(function () {})
      .finally(function () { setTimeout(poll, 1000); });
  }
  setTimeout(poll, 1000);
})();
