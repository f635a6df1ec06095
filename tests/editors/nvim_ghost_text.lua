-- Neovim (0.10/0.11 ghost text, or 0.12 native inline completion) with editors/neovim, driven
-- through real keystrokes: a child `nvim --embed` gets input exactly as from a keyboard
-- (nvim_input), so TextChangedI, the debounce timer, the LSP request and the extmarks all run as
-- for a user. Opens a copy of assets/examples/fib.py, types `urn ` after `    ret`, waits for
-- the suggestion, presses <Tab>, and checks the buffer and the file written by :w.
--
--   INFILL_BIN=target/release/infill nvim --headless --clean -l tests/editors/nvim_ghost_text.lua
-- Optional: INFILL_TEST_MODEL (default: the fetched Qwen2.5-Coder-0.5B, else the tiny model).
-- Prints "nvim: 1 passed, 0 failed" and exits 0, or the reason and exits 1.

local repo = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h:h')
local bin = os.getenv('INFILL_BIN') or (repo .. '/target/release/infill')
local real = os.getenv('INFILL_TEST_MODEL')
  or vim.fn.expand('~/.cache/infill/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf')
local model = vim.fn.filereadable(real) == 1 and real or (repo .. '/assets/tiny-starcoder2.gguf')
local is_real = model == real
local patience_ms = tonumber(os.getenv('INFILL_TEST_PATIENCE_MS') or '') or 120000

local function fail(message)
  io.stdout:write('FAIL: ' .. message .. '\nnvim: 0 passed, 1 failed\n')
  os.exit(1)
end

if vim.fn.executable(bin) ~= 1 then
  fail('no infill binary at ' .. bin .. ' (set INFILL_BIN)')
end

-- A workspace with the example file, its `return ` line cut back to `ret`. The workspace folder
-- has a fixed name (it is the repository name in the model's prompt); logs stay outside it.
local tmp = vim.fn.tempname()
local root = tmp .. '/proj'
vim.fn.mkdir(root .. '/.git', 'p')
local file = root .. '/fib.py'
local lines = vim.fn.readfile(repo .. '/assets/examples/fib.py')
assert(lines[4] == '    return ', 'fib.py changed: ' .. vim.inspect(lines[4]))
lines[4] = '    ret'
vim.fn.writefile(lines, file)

local child = vim.fn.jobstart({ vim.v.progpath, '--embed', '--headless', '--clean' }, {
  rpc = true,
  env = { XDG_STATE_HOME = tmp .. '/state', INFILL_LOG = 'info' },
})
local function lua(code, ...)
  return vim.rpcrequest(child, 'nvim_exec_lua', code, { ... })
end
local function wait(what, predicate)
  local value
  local ok = vim.wait(patience_ms, function()
    value = predicate()
    return value ~= nil and value ~= vim.NIL and value ~= false
  end, 50)
  if not ok then
    local log = table.concat(vim.fn.readfile(root .. '/state/infill/infill.log') or {}, '\n')
    fail('timed out waiting for ' .. what .. '\n--- infill log ---\n' .. log:sub(-3000))
  end
  return value
end

local version = lua('local v = vim.version() return v.major .. "." .. v.minor .. "." .. v.patch')
lua([[
  local repo, bin, model = ...
  vim.opt.runtimepath:prepend(repo .. '/editors/neovim')
  vim.o.swapfile = false
  require('infill').setup({
    cmd = { bin, 'serve' },
    settings = { model = model, threads = 1, maxTokens = 24 },
  })
]], repo, bin, model)
vim.rpcrequest(child, 'nvim_command', 'edit ' .. vim.fn.fnameescape(file))
wait('the infill client to attach', function()
  return lua([[return #vim.lsp.get_clients({ bufnr = 0, name = 'infill' }) == 1]])
end)
wait('the model to load', function()
  local state = lua([[return require('infill').status().state]])
  if state == 'error' then
    fail('model failed: ' .. lua([[return require('infill').status().message]]))
  end
  return state == 'ready'
end)
local native = lua([[return vim.lsp.inline_completion ~= nil]])

-- In normal mode, the cursor comes to rest on line 4: the plugin tells the server
-- (`infill/cursorMoved`), which evaluates the prompt there before anything is typed.
local function background_calls()
  return lua([[
    local client = vim.lsp.get_clients({ name = 'infill' })[1]
    local answer = client:request_sync('infill/stats', vim.NIL, 10000, 0)
    return answer and answer.result and answer.result.backgroundCalls
  ]])
end
local before = background_calls()
vim.rpcrequest(child, 'nvim_input', '4G')
wait('a warm-up where the cursor came to rest', function()
  return background_calls() > before
end)

-- Real keystrokes: append on line 4, type.
vim.rpcrequest(child, 'nvim_input', 'A')
for _, key in ipairs({ 'u', 'r', 'n', ' ' }) do
  vim.rpcrequest(child, 'nvim_input', key)
end
wait('insert mode with "    return "', function()
  return lua([[return vim.api.nvim_get_mode().mode == 'i' and vim.api.nvim_get_current_line() == '    return ']])
end)

-- The suggestion on screen: an extmark with virtual text at the cursor (row 3, col 11).
local function ghost()
  return lua([[
    for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(0, -1, 0, -1, { details = true })) do
      local d = mark[4]
      if d.virt_text and mark[2] == 3 and mark[3] == 11 then
        local text = ''
        for _, chunk in ipairs(d.virt_text) do text = text .. chunk[1] end
        if text ~= '' then return text end
      end
    end
    return nil
  ]])
end
local shown = wait('the ghost text', ghost)

-- <C-]> dismisses it and leaves the line alone; typing brings a new one.
vim.rpcrequest(child, 'nvim_input', '<C-]>')
wait('the ghost text to go', function()
  return ghost() == vim.NIL
end)
if lua([[return vim.api.nvim_get_current_line()]]) ~= '    return ' then
  fail('dismissing changed the line')
end
vim.rpcrequest(child, 'nvim_input', 'x')
vim.rpcrequest(child, 'nvim_input', '<BS>')
shown = wait('the ghost text again after typing', ghost)
if is_real and not shown:find('fib%(n') then
  fail('the real model suggested ' .. vim.inspect(shown) .. ', expected fib(n-1) + fib(n-2)')
end

vim.rpcrequest(child, 'nvim_input', '<Tab>')
local line = wait('the accepted suggestion in the buffer', function()
  local current = lua([[return vim.api.nvim_buf_get_lines(0, 3, 4, false)[1] ]])
  return current ~= '    return ' and current or nil
end)
if line ~= '    return ' .. shown then
  fail(('after <Tab>: %q, expected %q'):format(line, '    return ' .. shown))
end
-- Accepting ran the item's command on the server: its count is now 1, this request makes 2.
local accepted = lua([[
  local client = vim.lsp.get_clients({ name = 'infill' })[1]
  local answer = client:request_sync('workspace/executeCommand', { command = 'infill.accepted' }, 10000, 0)
  return answer and answer.result and answer.result.accepted
]])
if accepted ~= 2 then
  fail('accepted count after <Tab> is ' .. vim.inspect(accepted) .. ', expected 1 (+1 for asking)')
end

vim.rpcrequest(child, 'nvim_input', '<Esc>:w<CR>')
wait('the file on disk', function()
  return vim.fn.readfile(file)[4] == line
end)
vim.rpcnotify(child, 'nvim_command', 'qa!')
pcall(vim.fn.jobwait, { child }, 5000)
vim.fn.delete(tmp, 'rf')
io.stdout:write(('ok: Neovim %s (%s), %s model: ghost text %q accepted into the file\n'):format(
  version, native and 'vim.lsp.inline_completion' or 'plugin ghost text', is_real and 'real' or 'tiny', shown))
io.stdout:write('nvim: 1 passed, 0 failed\n')
os.exit(0)
