-- infill for Neovim: registers the infill language server and shows its suggestions as ghost text.
--
-- Neovim 0.12+: the built-in `vim.lsp.inline_completion` draws and accepts the suggestions.
-- Neovim 0.10/0.11: this plugin asks `textDocument/inlineCompletion` itself while you type and
-- draws the answer with extmarks (first line inline at the cursor, the rest as virtual lines).
--
--   require('infill').setup({ settings = { model = '~/models/starcoder2-3b-Q4_K_M.gguf' } })
--
-- Keys (insert mode, only while a suggestion is shown; otherwise the key does what it did):
-- <Tab> accepts, <C-Down> accepts the first line (0.10/0.11), <C-]> dismisses.

local M = {}

local defaults = {
  cmd = { 'infill' },
  filetypes = {
    'python', 'rust', 'go', 'c', 'cpp', 'javascript', 'javascriptreact', 'typescript',
    'typescriptreact', 'lua', 'java', 'kotlin', 'ruby', 'php', 'cs', 'swift', 'zig', 'sh',
    'bash', 'html', 'css', 'scss', 'sql', 'yaml', 'toml', 'json', 'markdown', 'vim',
  },
  root_markers = { '.git' },
  -- The server's settings (README: model, threads, maxTokens, multiline, ...). Sent as
  -- initializationOptions; `require('infill').update_settings{...}` changes them live.
  settings = {},
  keys = { accept = '<Tab>', accept_line = '<C-Down>', dismiss = '<C-]>' },
  -- Milliseconds of quiet typing before asking (0.10/0.11 ghost text only).
  debounce_ms = 120,
  hl_group = 'Comment',
  -- false: use this plugin's ghost text even where vim.lsp.inline_completion exists.
  native = true,
}

M.config = vim.deepcopy(defaults)
local ns = vim.api.nvim_create_namespace('infill')
local status = { state = 'stopped', message = 'not started' }
-- The suggestion on screen (0.10/0.11 path).
local shown = nil
-- The request in flight: { client = client, id = number }.
local pending = nil
local timer = nil

local function has(version)
  return vim.fn.has('nvim-' .. version) == 1
end

local function uses_native()
  return M.config.native and vim.lsp.inline_completion ~= nil
end

--- The infill client attached to `bufnr`, if any.
local function client_for(bufnr)
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  return get({ bufnr = bufnr, name = 'infill' })[1]
end

-- Client methods became `client:method()` in 0.11; 0.10 has `client.method()`.
local function call(client, method, ...)
  if has('0.11') then
    return client[method](client, ...)
  end
  return client[method](...)
end

--- "infill: ready — model.gguf ready (...)" for a statusline; `status().state` for logic.
function M.status()
  return status
end

function M.statusline()
  local icons = { loading = '…', ready = '✓', error = '✗', stopped = '-' }
  return 'infill ' .. (icons[status.state] or '?')
end

local function on_status(_, params)
  status = { state = params.state, message = params.message }
  if params.state == 'error' then
    vim.notify('infill: ' .. params.message, vim.log.levels.ERROR)
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'InfillStatus', modeline = false })
  vim.cmd.redrawstatus({ bang = true })
end

---------------------------------------------------------------------------------------------
-- Ghost text for Neovim 0.10/0.11
---------------------------------------------------------------------------------------------

function M.dismiss()
  if pending then
    pcall(call, pending.client, 'cancel_request', pending.id)
    pending = nil
  end
  if shown and vim.api.nvim_buf_is_valid(shown.bufnr) then
    vim.api.nvim_buf_clear_namespace(shown.bufnr, ns, 0, -1)
  end
  shown = nil
end

--- The text of the suggestion on screen, or nil.
function M.visible_text()
  if uses_native() then
    return nil
  end
  return shown and shown.text or nil
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function still_current(state)
  if not state or state.bufnr ~= vim.api.nvim_get_current_buf() then
    return false
  end
  local row, col = cursor()
  return row == state.row and col == state.col
    and vim.api.nvim_buf_get_changedtick(state.bufnr) == state.tick
end

local function draw(state)
  local lines = vim.split(state.text, '\n', { plain = true })
  local opts = {
    virt_text = { { lines[1], M.config.hl_group } },
    virt_text_pos = 'inline',
    hl_mode = 'combine',
  }
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do
      table.insert(opts.virt_lines, { { lines[i], M.config.hl_group } })
    end
  end
  vim.api.nvim_buf_clear_namespace(state.bufnr, ns, 0, -1)
  vim.api.nvim_buf_set_extmark(state.bufnr, ns, state.row, state.col, opts)
end

local function item_text(item)
  local text = item.insertText
  if type(text) == 'table' then
    text = text.value
  end
  return text
end

--- Asks the server for a suggestion at the cursor and draws it when it arrives (if the cursor
--- and the text have not moved on meanwhile).
function M.request()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  M.dismiss()
  local row, col = cursor()
  local at = { bufnr = bufnr, row = row, col = col, tick = vim.api.nvim_buf_get_changedtick(bufnr) }
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 2 } -- Automatic
  local ok, id
  ok, id = call(client, 'request', 'textDocument/inlineCompletion', params, function(err, result)
    if pending and pending.id == id then
      pending = nil
    end
    if err or not result or not still_current(at) then
      return
    end
    local items = result.items or result
    local item = items[1]
    local text = item and item_text(item)
    if not text or text == '' then
      return
    end
    at.text, at.item, at.client = text, item, client
    shown = at
    draw(at)
  end, bufnr)
  if ok then
    pending = { client = client, id = id }
  end
end

--- Inserts the suggestion on screen (all of it, or its first line) and tells the server it was
--- accepted (the item's command). False when no suggestion is shown.
function M.accept(first_line_only)
  if uses_native() then
    return vim.lsp.inline_completion.get() or false
  end
  local state = shown
  if not still_current(state) then
    M.dismiss()
    return false
  end
  local text = state.text
  local rest = nil
  if first_line_only then
    local nl = text:find('\n', 1, true)
    if nl then
      -- Accept up to and including the line break only when the first line is blank.
      if nl == 1 then
        text, rest = '\n', text:sub(2)
      else
        text, rest = text:sub(1, nl - 1), text:sub(nl)
      end
    end
  end
  M.dismiss()
  local lines = vim.split(text, '\n', { plain = true })
  vim.api.nvim_buf_set_text(state.bufnr, state.row, state.col, state.row, state.col, lines)
  local end_row = state.row + #lines - 1
  local end_col = (#lines == 1 and state.col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  if state.item.command then
    local command = state.item.command
    if has('0.11') then
      state.client:exec_cmd(command, { bufnr = state.bufnr })
    else
      state.client.request('workspace/executeCommand', {
        command = command.command,
        arguments = command.arguments,
      }, function() end, state.bufnr)
    end
  end
  if rest and rest ~= '' then
    -- Keep showing what is left of the suggestion.
    local row, col = cursor()
    shown = {
      bufnr = state.bufnr, row = row, col = col,
      tick = vim.api.nvim_buf_get_changedtick(state.bufnr),
      text = rest, item = { insertText = rest }, client = state.client,
    }
    draw(shown)
  end
  return true
end

local function schedule_request()
  if not timer then
    timer = (vim.uv or vim.loop).new_timer()
  end
  timer:stop()
  timer:start(M.config.debounce_ms, 0, vim.schedule_wrap(function()
    if vim.api.nvim_get_mode().mode:sub(1, 1) == 'i' then
      M.request()
    end
  end))
end

local function attach_ghost_text(bufnr)
  local group = vim.api.nvim_create_augroup('infill_ghost_' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ 'TextChangedI', 'TextChangedP' }, {
    group = group, buffer = bufnr,
    callback = function()
      M.dismiss()
      schedule_request()
    end,
  })
  vim.api.nvim_create_autocmd('CursorMovedI', {
    group = group, buffer = bufnr,
    callback = function()
      if shown and not still_current(shown) then
        M.dismiss()
      end
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group, buffer = bufnr,
    callback = function()
      if timer then
        timer:stop()
      end
      M.dismiss()
    end,
  })
end

---------------------------------------------------------------------------------------------
-- Setup
---------------------------------------------------------------------------------------------

local function map_keys(bufnr)
  local keys = M.config.keys
  local function fallback(key)
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(key, true, false, true), 'n', false)
  end
  if keys.accept then
    vim.keymap.set('i', keys.accept, function()
      if not M.accept(false) then
        fallback(keys.accept)
      end
    end, { buffer = bufnr, desc = 'infill: accept the suggestion' })
  end
  if keys.accept_line and not uses_native() then
    vim.keymap.set('i', keys.accept_line, function()
      if not M.accept(true) then
        fallback(keys.accept_line)
      end
    end, { buffer = bufnr, desc = 'infill: accept the first line of the suggestion' })
  end
  if keys.dismiss then
    vim.keymap.set('i', keys.dismiss, function()
      if not uses_native() and shown then
        M.dismiss()
      else
        fallback(keys.dismiss)
      end
    end, { buffer = bufnr, desc = 'infill: dismiss the suggestion' })
  end
end

-- Milliseconds the cursor stays put (in normal mode) before the server is told where it rests.
local CURSOR_REST_MS = 300

-- Tells the server where the cursor came to rest after moving without an edit (normal mode:
-- a jump, a search, `gd`): it evaluates the prompt there while you read, so the first
-- suggestion after you start typing there comes at once (`infill/cursorMoved`).
local function watch_cursor(bufnr)
  local rest_timer = nil
  vim.api.nvim_create_autocmd('CursorMoved', {
    group = vim.api.nvim_create_augroup('infill_cursor_' .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function()
      rest_timer = rest_timer or (vim.uv or vim.loop).new_timer()
      rest_timer:stop()
      rest_timer:start(CURSOR_REST_MS, 0, vim.schedule_wrap(function()
        local client = client_for(bufnr)
        if not client or vim.api.nvim_get_current_buf() ~= bufnr then
          return
        end
        local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
        call(client, 'notify', 'infill/cursorMoved', params)
      end))
    end,
  })
end

local function on_attach(client, bufnr)
  watch_cursor(bufnr)
  if uses_native() then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  else
    attach_ghost_text(bufnr)
  end
  map_keys(bufnr)
end

--- The `vim.lsp.config` table for infill (usable without `setup`).
function M.lsp_config()
  local settings = M.config.settings or {}
  if settings.model then
    settings.model = vim.fn.expand(settings.model)
  end
  return {
    cmd = M.config.cmd,
    filetypes = M.config.filetypes,
    root_markers = M.config.root_markers,
    init_options = settings,
    settings = settings,
    handlers = { ['infill/status'] = on_status },
    on_attach = on_attach,
  }
end

--- Changes server settings live (`workspace/didChangeConfiguration`); `model`, `family`,
--- `threads` and `contextSize` need `:LspRestart` (the server says so).
function M.update_settings(changes)
  M.config.settings = vim.tbl_extend('force', M.config.settings or {}, changes)
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  for _, client in ipairs(get({ name = 'infill' })) do
    client.settings = M.config.settings
    call(client, 'notify', 'workspace/didChangeConfiguration', { settings = M.config.settings })
  end
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  status = { state = 'loading', message = 'starting' }
  local config = M.lsp_config()
  if vim.lsp.config then
    vim.lsp.config('infill', config)
    vim.lsp.enable('infill')
    return
  end
  -- Neovim 0.10: start the client per buffer.
  vim.api.nvim_create_autocmd('FileType', {
    group = vim.api.nvim_create_augroup('infill_start', { clear = true }),
    pattern = config.filetypes,
    callback = function(args)
      local root = vim.fs.root and vim.fs.root(args.buf, config.root_markers) or vim.fn.getcwd()
      vim.lsp.start({
        name = 'infill', cmd = config.cmd, root_dir = root,
        init_options = config.init_options, settings = config.settings,
        handlers = config.handlers, on_attach = config.on_attach,
      }, { bufnr = args.buf })
    end,
  })
end

return M
