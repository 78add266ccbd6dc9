-- A Wireshark dissector for p2pchat: the registry protocol, the chat
-- protocol between peers (invitation, lobby, rejoin and handover) and the
-- file-transfer lines, as docs/PROTOCOL.md describes them and src/wire/
-- parses them.
--
-- Load it for one run:   wireshark -X lua_script:contrib/wireshark/p2pchat.lua
--                        tshark -X lua_script:contrib/wireshark/p2pchat.lua -r capture.pcapng
-- or for good: copy it into Wireshark's personal Lua plugins folder
-- (Help > About Wireshark > Folders, "Personal Lua Plugins").
--
-- It recognises p2pchat on the registry's default port (7777, plain text
-- or TLS) and, on any other TCP port (a peer's chat port is any free port
-- unless --port names one), a stream whose first line starts with a
-- p2pchat keyword. Inside TLS it reads the decrypted lines once Wireshark
-- has the key log (Preferences > Protocols > TLS > (Pre)-Master-Secret log
-- filename, the file SSLKEYLOGFILE named).
--
-- Passwords are never shown: a REGISTER's or JOIN's password is the field
-- p2pchat.password with the value ****, and the line as shown hides it the
-- way the program's --trace does (src/wire/checks.rs, redact). No other
-- line carries a secret: a ticket is single-use and bound to its invitee, a
-- lobby id is no credential, a proof is bound to fresh nonces.

local p2pchat = Proto("p2pchat", "p2pchat peer-to-peer chat")

local REGISTRY_PORT = 7777
-- The longest line, not counting its line ending (src/wire/checks.rs).
local MAX_LINE = 1024
local HIDDEN = "****"

local f = {
  line = ProtoField.string("p2pchat.line", "Line"),
  command = ProtoField.string("p2pchat.command", "Command"),
  reply = ProtoField.string("p2pchat.reply", "Reply"),
  user = ProtoField.string("p2pchat.user", "User"),
  password = ProtoField.string("p2pchat.password", "Password"),
  ip = ProtoField.string("p2pchat.ip", "IP address"),
  port = ProtoField.uint16("p2pchat.port", "Port"),
  key = ProtoField.string("p2pchat.key", "Public key"),
  ticket = ProtoField.string("p2pchat.ticket", "Ticket"),
  leader = ProtoField.string("p2pchat.leader", "Leader"),
  invitee = ProtoField.string("p2pchat.invitee", "Invitee"),
  from = ProtoField.string("p2pchat.from", "From"),
  to = ProtoField.string("p2pchat.to", "To"),
  by = ProtoField.string("p2pchat.by", "Asked by"),
  text = ProtoField.string("p2pchat.text", "Text"),
  away = ProtoField.string("p2pchat.away", "Away"),
  code = ProtoField.string("p2pchat.code", "Error code"),
  reason = ProtoField.string("p2pchat.reason", "Reason"),
  status = ProtoField.string("p2pchat.status", "Status"),
  count = ProtoField.uint32("p2pchat.count", "Count"),
  seq = ProtoField.uint64("p2pchat.seq", "Sequence number"),
  time = ProtoField.string("p2pchat.time", "Time"),
  lobby = ProtoField.string("p2pchat.lobby", "Lobby id"),
  nonce = ProtoField.string("p2pchat.nonce", "Nonce"),
  signature = ProtoField.string("p2pchat.signature", "Signature"),
  sealed = ProtoField.string("p2pchat.sealed", "Sealed message"),
  file_line = ProtoField.string("p2pchat.file_line", "File line"),
  offer = ProtoField.string("p2pchat.offer", "Offer id"),
  size = ProtoField.uint64("p2pchat.size", "Size"),
  checksum = ProtoField.string("p2pchat.checksum", "Checksum"),
  file = ProtoField.string("p2pchat.file", "File name"),
  offset = ProtoField.uint64("p2pchat.offset", "From byte"),
  file_data = ProtoField.bytes("p2pchat.file_data", "File data"),
  role = ProtoField.string("p2pchat.role", "Direction"),
}
p2pchat.fields = f

local ef_unknown = ProtoExpert.new("p2pchat.unknown", "Not a line of this protocol",
  expert.group.MALFORMED, expert.severity.WARN)
local ef_too_long = ProtoExpert.new("p2pchat.too_long", "Line over 1024 bytes: the connection ends",
  expert.group.MALFORMED, expert.severity.ERROR)
p2pchat.experts = { ef_unknown, ef_too_long }

-- The grammar, one table per direction of each connection. A spec is a
-- list of argument names: a plain name is one word, "?name" an optional
-- word, "*name" the rest of the line, "+name" every word left, and a
-- function parses the rest itself.

local NUMERIC = { port = true, count = true, seq = true, size = true, offset = true }

-- A contact's key is optional, and so is its away text after the word
-- AWAY, which comes last.
local function contact() return { "user", "ip", "port", "@contact" } end

local REGISTRY_REQUESTS = {
  REGISTER = { "user", "!password" },
  NAME = { "user" },
  JOIN = { "user", "!password", "port", "?key" },
  HELLO = {}, LIST = {}, LOGOUT = {}, HELP = {},
  SEARCH = { "user" },
  INVITE = { "user" },
  CHECK = { "ticket" },
  AWAY = { "*away" },
  BACK = {},
}

-- The word after a registry's OK.
local REGISTRY_OK = {
  NAME_FREE = { "user" },
  REGISTERED = { "user" },
  JOINED = contact(),
  HELLO = {},
  LIST = { "count" },
  USER = contact(),
  BYE = {},
  HELP = { "*text" },
  AWAY = { "*away" },
  BACK = {},
}

local ERR = { "code", "*text" }

local REGISTRY_REPLIES = {
  USER = contact(),
  ERR = ERR,
  BYE = { "reason" },
}

local FILE_LINES = {
  OFFER = { "offer", "size", "checksum", "*file" },
  ACCEPT = { "offer" }, DECLINE = { "offer" }, CANCEL = { "offer", "*reason" },
}

local TO_MEMBER = {
  CHAT_REQUEST = { "leader", "?ticket" },
  MEMBERS = { "+user" },
  JOINED = { "user" },
  MSG = { "from", "*text" },
  -- The reason (LEFT, LOST, SILENT, SLOW, TOO_LONG, KICKED) is absent
  -- from an older leader's line.
  LEFT = { "user", "?reason" },
  CLOSED = { "*reason" },
  ERR = ERR,
  HELLO = {},
  HISTORY = { "time", "from", "*text" },
  PM = { "from", "@private" },
  KICKED = { "user", "*reason" },
  INVITATION = { "user", "status", "?by" },
  CREDENTIAL = { "lobby" },
  SEAT = { "user", "ip", "port", "key" },
  SEQ = { "seq" },
  HANDOVER = { "user" },
  PROOF = { "lobby", "user", "nonce", "signature" },
  FILE = { "from", "@file" },
  AWAY = { "user", "*away" },
  BACK = { "user" },
}

local TO_LEADER = {
  REJECT = {}, LEAVE = {}, HELLO = {},
  BUSY = { "?reason" },
  MSG = { "*text" },
  INVITE = { "user" },
  PM = { "to", "@private" },
  FILE = { "to", "@file" },
  AWAY = { "*away" },
  BACK = {},
  ERR = ERR,
}

local TO_SEAT = {
  PROVE = { "nonce" },
  REJOIN = { "lobby", "user", "seq", "?signature" },
}

local FETCH = { FETCH = { "user", "offer", "offset" } }
local SENDING = { SENDING = { "offer", "offset", "size" }, ERR = ERR }

-- Which table each direction reads, and the first keywords that tell what
-- a stream is: the side that sends the first line is its client.
local FIRST_LINES = {
  REGISTER = "registry", NAME = "registry", JOIN = "registry", HELLO = "registry", LIST = "registry",
  SEARCH = "registry", INVITE = "registry", CHECK = "registry",
  LOGOUT = "registry", HELP = "registry",
  CHAT_REQUEST = "chat",
  PROVE = "rejoin", REJOIN = "rejoin",
  FETCH = "transfer",
}

-- Every keyword of every table: a stream whose first line starts with one
-- of these is p2pchat (the server's replies included, for a capture that
-- began in the middle of a connection).
local KEYWORDS = {}
for _, t in ipairs({ REGISTRY_REQUESTS, REGISTRY_REPLIES, TO_MEMBER, TO_LEADER, TO_SEAT,
                     FETCH, SENDING, { OK = true } }) do
  for k in pairs(t) do KEYWORDS[k] = true end
end

-- The streams seen so far, by their two ends: what kind of stream, which
-- end is the client, and from which frame on each end sends raw bytes.
local streams = {}

function p2pchat.init()
  streams = {}
end

local function endpoint(addr, port) return tostring(addr) .. "|" .. tostring(port) end

local function stream_of(pinfo)
  local a = endpoint(pinfo.src, pinfo.src_port)
  local b = endpoint(pinfo.dst, pinfo.dst_port)
  local key = a < b and (a .. "-" .. b) or (b .. "-" .. a)
  local s = streams[key]
  if not s then
    s = { raw_from = {} }
    streams[key] = s
  end
  return s, a
end

-- The words of `line` from byte `from` on, each with where it starts and
-- ends (1-based, inclusive), as the program splits them: at spaces and tabs.
local function words_of(line, from)
  local out = {}
  local pos = from or 1
  while true do
    local s, e = line:find("[^ \t]+", pos)
    if not s then break end
    out[#out + 1] = { text = line:sub(s, e), s = s, e = e }
    pos = e + 1
  end
  return out
end

-- The rest of the line from word `w` on, with its own spacing.
local function rest_from(line, w)
  return line:sub(w.s)
end

local add_args -- forward: the file and private-message lines nest

-- Adds one argument `name` with `value` at line bytes [s, e].
local function add_field(tree, range, name, value, s, e)
  local r = range(s - 1, e - s + 1)
  if name == "password" then
    return tree:add(f.password, r, HIDDEN)
  end
  if NUMERIC[name] then
    local n = tonumber(value)
    if n then
      if name == "seq" or name == "size" or name == "offset" then
        return tree:add(f[name], r, UInt64.new(n))
      end
      return tree:add(f[name], r, n)
    end
    return tree:add(f.text, r, value):append_text(" (not a number)")
  end
  return tree:add(f[name], r, value)
end

-- `PM <name> <text>` or `PM <name> SEALED <sealed>`.
local function add_private(tree, range, line, words, i)
  local w = words[i]
  if not w then return end
  if w.text == "SEALED" and #words == i + 1 then
    add_field(tree, range, "sealed", words[i + 1].text, words[i + 1].s, words[i + 1].e)
  else
    add_field(tree, range, "text", rest_from(line, w), w.s, #line)
  end
end

-- The file line inside `FILE <name> <file-line>`.
local function add_file(tree, range, line, words, i)
  local w = words[i]
  if not w then return end
  local sub = tree:add(f.file_line, range(w.s - 1, #line - w.s + 1), rest_from(line, w))
  local spec = FILE_LINES[w.text]
  if spec then
    local inner = { table.unpack(words, i + 1) }
    add_args(sub, range, line, inner, spec)
  end
end

-- The end of a contact, from word `i`: `[key] [AWAY [text]]`.
local function add_contact(tree, range, line, words, i)
  local w = words[i]
  if w and w.text ~= "AWAY" then
    add_field(tree, range, "key", w.text, w.s, w.e)
    i = i + 1
    w = words[i]
  end
  if not w then return end
  local text = words[i + 1]
  if text then
    add_field(tree, range, "away", rest_from(line, text), text.s, #line)
  else
    tree:add(f.away, range(w.s - 1, w.e - w.s + 1), "(no text)")
  end
end

-- Adds the arguments `words` of `line` by `spec`; says so where the words
-- do not fit.
add_args = function(tree, range, line, words, spec)
  local i = 1
  for _, arg in ipairs(spec) do
    local kind, name = arg:sub(1, 1), arg:sub(2)
    if kind ~= "?" and kind ~= "*" and kind ~= "+" and kind ~= "!" and kind ~= "@" then
      kind, name = "", arg
    end
    local w = words[i]
    if kind == "@" then
      if name == "private" then add_private(tree, range, line, words, i) end
      if name == "file" then add_file(tree, range, line, words, i) end
      if name == "contact" then add_contact(tree, range, line, words, i) end
      return
    elseif kind == "*" then
      if w then add_field(tree, range, name, rest_from(line, w), w.s, #line) end
      return
    elseif kind == "+" then
      for j = i, #words do
        add_field(tree, range, name, words[j].text, words[j].s, words[j].e)
      end
      return
    elseif w then
      add_field(tree, range, name, w.text, w.s, w.e)
      i = i + 1
    elseif kind == "" or kind == "!" then
      tree:add_proto_expert_info(ef_unknown, "missing " .. name)
      return
    end
  end
end

-- The line as it may be shown: a REGISTER's or JOIN's password hidden, and
-- nothing after a first word that is no keyword (it may be a password typed
-- in the wrong place). Mirrors redact in src/wire/checks.rs.
local function redacted(line, words)
  local keyword = words[1] and words[1].text:upper()
  if not keyword then return line end
  if not KEYWORDS[keyword] then
    return "(a line that is no p2pchat line)"
  end
  if keyword ~= "REGISTER" and keyword ~= "JOIN" then return line end
  local args = {}
  for i = 2, #words do args[#args + 1] = words[i].text end
  -- A JOIN's public key (two base64 halves and a dot) is shown.
  local key = nil
  if keyword == "JOIN" and #args >= 4 and args[#args]:find("^[%w+/]+%.[%w+/]+$") then
    key = table.remove(args)
  end
  local shown = { words[1].text }
  local needed = keyword == "REGISTER" and 2 or 3
  if #args < needed then
    shown[#shown + 1] = HIDDEN
  else
    shown[#shown + 1] = args[1]
    shown[#shown + 1] = HIDDEN
    if keyword == "JOIN" and args[#args]:find("^%d+$") then shown[#shown + 1] = args[#args] end
  end
  shown[#shown + 1] = key
  return table.concat(shown, " ")
end

-- The table a line is read by: from the stream's kind, and whether the
-- sender is the stream's client.
local function grammar(s, from_client, keyword)
  if s.kind == "registry" then
    return from_client and "request" or "reply"
  elseif s.kind == "chat" then
    return from_client and "to_member" or "to_leader"
  elseif s.kind == "rejoin" then
    if from_client then return TO_SEAT[keyword] and "to_seat" or "to_leader" end
    return "to_member"
  elseif s.kind == "transfer" then
    return from_client and "fetch" or "sending"
  end
  return nil
end

local TABLES = {
  request = REGISTRY_REQUESTS, reply = REGISTRY_REPLIES, to_member = TO_MEMBER,
  to_leader = TO_LEADER, to_seat = TO_SEAT, fetch = FETCH, sending = SENDING,
}

local ROLE_NAMES = {
  request = "peer to registry", reply = "registry to peer",
  to_member = "leader to member", to_leader = "member to leader",
  to_seat = "member to seat", fetch = "recipient to file sender",
  sending = "file sender to recipient",
}

-- Learns what a stream is from its first line, if it does not know yet.
local function learn(s, sender, keyword, pinfo)
  if s.kind then return end
  local kind = FIRST_LINES[keyword]
  if kind then
    s.kind, s.client = kind, sender
    return
  end
  -- A capture that began mid-stream: a reply names its kind, and the
  -- client is the other end.
  if keyword == "OK" or keyword == "USER" or keyword == "BYE" or keyword == "ERR" then
    s.kind = "registry"
    if pinfo.src_port == REGISTRY_PORT or keyword ~= "ERR" then
      s.client = endpoint(pinfo.dst, pinfo.dst_port)
    else
      s.client = sender
    end
  elseif TO_MEMBER[keyword] then
    s.kind, s.client = "chat", sender
  end
end

-- Dissects one line (without its line ending) at `offset` of `tvb`.
local function dissect_line(tvb, offset, len, pinfo, root, s, sender)
  local range = function(o, l) return tvb(offset + o, l) end
  local line = tvb:raw(offset, len)
  local words = words_of(line)
  if #words == 0 then return nil end
  local keyword = words[1].text:upper()
  learn(s, sender, keyword, pinfo)
  local shown = redacted(line, words)
  local item = root:add(p2pchat, tvb(offset, len))
  item:set_text("p2pchat: " .. shown)
  item:add(f.line, tvb(offset, len), shown)
  if not KEYWORDS[keyword] then
    item:add_proto_expert_info(ef_unknown)
    return shown
  end
  item:add(f.command, range(words[1].s - 1, #words[1].text), keyword)
  local role = grammar(s, sender == s.client, keyword)
  if role then item:add(f.role, ROLE_NAMES[role]):set_generated() end
  local args = { table.unpack(words, 2) }
  if role == "reply" and keyword == "OK" and args[1] then
    local what = args[1].text:upper()
    item:add(f.reply, range(args[1].s - 1, #args[1].text), what)
    local rest = { table.unpack(args, 2) }
    if what == "TICKET" then
      local spec = (#rest == 1) and { "ticket" } or { "leader", "invitee", "?key" }
      add_args(item, range, line, rest, spec)
    elseif REGISTRY_OK[what] then
      add_args(item, range, line, rest, REGISTRY_OK[what])
    end
  elseif role == "to_leader" and keyword == "OK" then
    add_args(item, range, line, args, { "?key" })
  elseif keyword == "INVITATION" and role == "to_member" then
    add_args(item, range, line, args, TO_MEMBER.INVITATION)
  else
    local spec = role and TABLES[role][keyword]
    if spec then
      add_args(item, range, line, args, spec)
    else
      item:add_proto_expert_info(ef_unknown, keyword .. " is not sent this way")
    end
  end
  if role == "sending" and keyword == "SENDING" then
    -- The file's bytes follow, raw, to the end of the connection.
    s.raw_from[sender] = s.raw_from[sender] or { frame = pinfo.number, offset = offset + len + 1 }
  end
  return shown
end

-- Whether this end of the stream sends raw file bytes from `offset` of
-- this frame on.
local function raw_at(s, sender, pinfo, offset)
  local raw = s.raw_from[sender]
  if not raw then return false end
  return pinfo.number > raw.frame or (pinfo.number == raw.frame and offset >= raw.offset)
end

-- Dissects every whole line in `tvb`, asking TCP for more where the last
-- is cut; returns the bytes used.
local function dissect_lines(tvb, pinfo, tree)
  local s, sender = stream_of(pinfo)
  local total = tvb:len()
  local offset = 0
  local shown = {}
  while offset < total do
    if raw_at(s, sender, pinfo, offset) then
      tree:add(p2pchat, tvb(offset)):set_text("p2pchat file data")
        :add(f.file_data, tvb(offset))
      shown[#shown + 1] = "file data"
      break
    end
    local newline = nil
    for i = offset, total - 1 do
      if tvb(i, 1):uint() == 10 then newline = i; break end
    end
    if not newline then
      if total - offset > MAX_LINE + 1 then
        local item = tree:add(p2pchat, tvb(offset))
        item:set_text("p2pchat: over-long line")
        item:add_proto_expert_info(ef_too_long)
        s.raw_from[sender] = s.raw_from[sender] or { frame = pinfo.number, offset = offset }
        shown[#shown + 1] = "over-long line"
        break
      end
      pinfo.desegment_offset = offset
      pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
      break
    end
    local len = newline - offset
    if len > 0 and tvb(newline - 1, 1):uint() == 13 then len = len - 1 end
    local text = len > 0 and dissect_line(tvb, offset, len, pinfo, tree, s, sender)
    if text then shown[#shown + 1] = text end
    offset = newline + 1
  end
  if #shown > 0 then
    pinfo.cols.protocol = "p2pchat"
    pinfo.cols.info = table.concat(shown, " | ")
  end
  return total
end

-- Whether `tvb` starts with a p2pchat keyword followed by a blank or the
-- end of the line (or of what arrived so far).
local function starts_with_keyword(tvb)
  local n = math.min(tvb:len(), 16)
  if n == 0 then return false end
  local head = tvb:raw(0, n)
  local word = head:match("^([%a_]+)")
  if not word or not KEYWORDS[word:upper()] then return false end
  local after = head:sub(#word + 1, #word + 1)
  return after == "" or after == " " or after == "\t" or after == "\r" or after == "\n"
end

local function known(pinfo)
  local s = stream_of(pinfo)
  return s.kind ~= nil
end

-- A TLS record's first bytes: content type 20 to 23, version 3.x.
local function looks_like_tls(tvb)
  if tvb:len() < 3 then return false end
  local kind = tvb(0, 1):uint()
  return kind >= 20 and kind <= 23 and tvb(1, 1):uint() == 3
end

local tls_handle = Dissector.get("tls")

-- The registry's port: plain text, or TLS, whose lines come back to this
-- dissector through the tls.port table below.
-- True while the TLS dissector runs for this dissector: the decrypted
-- lines it hands back through tls.port are then this stream's lines.
local inside_tls = false

function p2pchat.dissector(tvb, pinfo, tree)
  local s = stream_of(pinfo)
  if not inside_tls and (s.tls or (not s.kind and looks_like_tls(tvb))) then
    s.tls = true
    inside_tls = true
    local ok, used = pcall(tls_handle.call, tls_handle, tvb, pinfo, tree)
    inside_tls = false
    if not ok then error(used) end
    return used
  end
  return dissect_lines(tvb, pinfo, tree)
end

local function heuristic(tvb, pinfo, tree, over_tcp)
  if over_tcp and looks_like_tls(tvb) then return false end
  if not known(pinfo) and not starts_with_keyword(tvb) then return false end
  if over_tcp then
    -- The rest of the stream, and segments that start mid-line, come here.
    pinfo.conversation = p2pchat
  end
  dissect_lines(tvb, pinfo, tree)
  return true
end

DissectorTable.get("tcp.port"):add(REGISTRY_PORT, p2pchat)
DissectorTable.get("tls.port"):add(REGISTRY_PORT, p2pchat)
p2pchat:register_heuristic("tcp", function(tvb, pinfo, tree) return heuristic(tvb, pinfo, tree, true) end)
p2pchat:register_heuristic("tls", function(tvb, pinfo, tree) return heuristic(tvb, pinfo, tree, false) end)
